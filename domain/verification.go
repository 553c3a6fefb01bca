package domain

// ChainBreak is the first place where stored events do not match their
// hashes: the event at Position (Version of stream StreamID) was edited,
// moved or deleted, or what follows it was.
type ChainBreak struct {
	Position Position
	Version  Version
	StreamID string
	Reason   string
}

// StreamVerification is the result of checking one stream's hash chain:
// every event's hash over its content and its stream predecessor, and that
// the stream's recorded version and last hash agree with its last event.
type StreamVerification struct {
	StreamID string
	// Version is the stream's recorded version.
	Version Version
	// Checked is how many events verified before the break (all of them
	// when there is none).
	Checked int64
	Break   *ChainBreak // nil when the stream verified
}

// FeedVerification is the result of checking one page of the global chain,
// anchored at the chain hash of the position before it.
type FeedVerification struct {
	// From is the first position of the page (the anchor's position + 1),
	// To the last position read (the anchor's when the page is empty).
	From, To Position
	Checked  int64
	// Head is the position of the last committed event when the page was
	// read.
	Head  Position
	Break *ChainBreak // nil when the page verified
}
