package activities

import (
	"strconv"
	"strings"
	"sync"
)

// capture keeps the first and last half of at most max bytes of a stream and
// counts everything written, so a command printing gigabytes costs the
// worker a bounded amount of memory.
type capture struct {
	mu    sync.Mutex
	half  int
	head  []byte
	tail  []byte // the last bytes after head filled, trimmed to half
	total int64
}

func newCapture(max int64) *capture {
	half := int(max / 2)
	return &capture{half: half, head: make([]byte, 0, min(half, 64<<10))}
}

// Write never fails: output beyond the limit is counted and dropped.
func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(p))
	rest := p
	if room := c.half - len(c.head); room > 0 {
		n := min(room, len(rest))
		c.head = append(c.head, rest[:n]...)
		rest = rest[n:]
	}
	if len(rest) == 0 {
		return len(p), nil
	}
	c.tail = append(c.tail, rest...)
	// Trim in batches so the copy cost stays linear in the bytes written.
	if len(c.tail) > 2*c.half {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-c.half:]...)
	}
	return len(p), nil
}

// result returns the kept text as valid UTF-8, whether bytes were dropped,
// and how many bytes the stream had in all.
func (c *capture) result() (text string, truncated bool, total int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := c.tail
	if len(tail) > c.half {
		tail = tail[len(tail)-c.half:]
	}
	kept := int64(len(c.head) + len(tail))
	truncated = kept < c.total
	var b strings.Builder
	b.Grow(int(kept) + 64)
	b.Write(c.head)
	if truncated {
		b.WriteString("\n[… " + strconv.FormatInt(c.total-kept, 10) + " bytes omitted …]\n")
	}
	b.Write(tail)
	return strings.ToValidUTF8(b.String(), "\uFFFD"), truncated, c.total
}
