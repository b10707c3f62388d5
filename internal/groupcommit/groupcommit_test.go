package groupcommit

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDo: every value runs exactly once, in a batch that ran before its
// Do returned; batches never overlap; under concurrency values share
// batches; and a lone value runs at once.
func TestDo(t *testing.T) {
	var q Queue[*int]
	const callers = 200
	var running atomic.Int32
	var mu sync.Mutex
	ran := map[int]int{}
	batches := 0
	run := func(b []*int) {
		if running.Add(1) != 1 {
			t.Error("two batches ran at once")
		}
		time.Sleep(time.Millisecond) // a commit's worth, so that others queue
		mu.Lock()
		batches++
		for _, v := range b {
			ran[*v]++
		}
		mu.Unlock()
		running.Add(-1)
	}
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			q.Do(&i, run)
			mu.Lock()
			n := ran[i]
			mu.Unlock()
			if n != 1 {
				t.Errorf("Do(%d) returned after its value ran %d times", i, n)
			}
		})
	}
	wg.Wait()
	if len(ran) != callers {
		t.Fatalf("%d values ran, want %d", len(ran), callers)
	}
	for v, n := range ran {
		if n != 1 {
			t.Fatalf("value %d ran %d times", v, n)
		}
	}
	if batches >= callers {
		t.Errorf("%d callers ran in %d batches: none was shared", callers, batches)
	}
	t.Logf("%d callers, %d batches", callers, batches)

	start := time.Now()
	var got []int
	one := 7
	q.Do(&one, func(b []*int) {
		for _, v := range b {
			got = append(got, *v)
		}
	})
	if !slices.Equal(got, []int{7}) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("a lone Do ran %v after %v", got, time.Since(start))
	}
}

// TestOrder: a batch holds the values in the order they were queued.
func TestOrder(t *testing.T) {
	var q Queue[int]
	release := make(chan struct{})
	started := make(chan struct{})
	var batches [][]int
	run := func(b []int) {
		if b[0] == 0 {
			close(started)
			<-release
		}
		batches = append(batches, slices.Clone(b))
	}
	done := make(chan struct{})
	go func() { q.Do(0, run); close(done) }()
	<-started
	var wg sync.WaitGroup
	for i := 1; i <= 5; i++ {
		wg.Go(func() { q.Do(i, run) })
		// Wait until i is queued, so that the queue order is known.
		for {
			q.mu.Lock()
			n := len(q.waiting)
			q.mu.Unlock()
			if n == i {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	<-done
	want := [][]int{{0}, {1, 2, 3, 4, 5}}
	if len(batches) != 2 || !slices.Equal(batches[0], want[0]) || !slices.Equal(batches[1], want[1]) {
		t.Fatalf("batches %v, want %v", batches, want)
	}
}
