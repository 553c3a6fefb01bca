package messaging

import _ "embed" // the AsyncAPI document

//go:embed asyncapi.json
var asyncAPI []byte

// AsyncAPI returns the AsyncAPI 3.0 document (JSON) of the messages the
// relay publishes: the exchange, one channel per routing key, every header,
// the whole envelope and each event type's data. The service serves it at
// GET /asyncapi.json. Callers must not modify the returned slice.
//
// The document is part of the contract with the consuming services: a test
// checks that it names every event type of the domain, and that what the
// relay publishes validates against it.
func AsyncAPI() []byte { return asyncAPI }
