package audit

import "time"

// SetSegmentSize sets the size of the journal segments opened from now
// on and returns a function that restores it.
func SetSegmentSize(n int64) (restore func()) {
	old := segmentSize
	segmentSize = n
	return func() { segmentSize = old }
}

// SetHedgeAfter sets how long a journal sync runs before a second one
// starts, and returns a function that restores it.
func SetHedgeAfter(d time.Duration) (restore func()) {
	old := hedgeAfter
	hedgeAfter = d
	return func() { hedgeAfter = old }
}
