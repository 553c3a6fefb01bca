package tenantcache

import (
	"sync/atomic"
	"unsafe"
)

// stripes is the number of cells of a stripedCounter (a power of two).
const stripes = 64

// stripedCounter is a counter for the hit path. One shared atomic counter
// would make every hit, on every core, write the same cache line, which on
// two cores halves the lookups per second. Here each goroutine adds to the
// cell its stack address falls in: goroutines have distinct stacks, so
// goroutines running at the same time on different cores almost always
// write different cells (each on its own pair of cache lines).
type stripedCounter struct {
	cells [stripes]struct {
		n atomic.Uint64
		_ [120]byte // 128 bytes per cell: adjacent-line prefetch pulls cache lines in pairs
	}
}

// add adds one.
func (c *stripedCounter) add() {
	c.cells[stripe()].n.Add(1)
}

// load returns the sum of the cells. Concurrent adds may or may not be
// counted.
func (c *stripedCounter) load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}

// stripe returns a cell index derived from the calling goroutine's stack
// address (the address of a local variable; only the number is kept).
// Stacks are at least 2 KiB apart, so the low bits are dropped before a
// multiplicative hash spreads the rest.
func stripe() uint64 {
	var local byte
	p := uint64(uintptr(unsafe.Pointer(&local)))
	return ((p >> 11) * 0x9E3779B97F4A7C15) >> (64 - 6)
}
