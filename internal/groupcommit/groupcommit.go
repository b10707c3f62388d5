// Package groupcommit runs work in batches formed by whoever is waiting:
// the group commit of databases. Callers hand their value to a Queue;
// one caller at a time leads, running every value queued so far as one
// batch, and then hands the lead to the first caller that queued while
// it ran. There is no timer: a lone caller runs at once, and under load
// each batch holds what arrived during the previous one.
package groupcommit

import "sync"

// Queue batches values of type T. The zero value is ready to use. A
// Queue must not be copied after first use.
type Queue[T any] struct {
	mu      sync.Mutex
	waiting []waiter[T]
	leading bool
}

type waiter[T any] struct {
	v T
	// done receives false once v's batch has run, or true when its
	// caller must lead the next batch.
	done chan bool
}

// Do queues v and returns once run has been called with a batch holding
// v, on this goroutine or another's. run gets the values in the order
// they were queued and is never called by two goroutines at once; it
// reports each value's outcome through the value itself (T is typically
// a pointer). If run panics, the panic reaches the leader's caller and
// the callers waiting on that batch wait for ever: recover inside run.
func (q *Queue[T]) Do(v T, run func(batch []T)) {
	me := waiter[T]{v: v, done: make(chan bool, 1)}
	q.mu.Lock()
	q.waiting = append(q.waiting, me)
	if q.leading {
		q.mu.Unlock()
		if lead := <-me.done; !lead {
			return
		}
		q.mu.Lock() // lead the next batch, which holds v
	}
	q.leading = true
	batch := q.waiting
	q.waiting = nil
	q.mu.Unlock()

	values := make([]T, len(batch))
	for i, w := range batch {
		values[i] = w.v
	}
	run(values)

	q.mu.Lock()
	var next chan bool
	if len(q.waiting) > 0 {
		next = q.waiting[0].done
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	for _, w := range batch {
		if w.done != me.done {
			w.done <- false
		}
	}
	if next != nil {
		next <- true
	}
}
