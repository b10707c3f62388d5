package audit

// SetSegmentSize sets the size of the journal segments opened from now
// on and returns a function that restores it.
func SetSegmentSize(n int64) (restore func()) {
	old := segmentSize
	segmentSize = n
	return func() { segmentSize = old }
}
