package app

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

// Tessera logs through klog, whose logger is one global that Tessera's
// goroutines read without a lock. Setting it for every App raced with the
// goroutines of an App already running (two Apps in one process, as in
// the end-to-end tests). So klog's logger is set once, to a handler that
// forwards to the logger of the newest App, held in an atomic pointer.
var (
	tesseraLog     atomic.Pointer[slog.Logger]
	tesseraLogOnce sync.Once
)

// logTesseraTo sends Tessera's log lines to log from now on.
func logTesseraTo(log *slog.Logger) {
	tesseraLog.Store(log.With("component", "tessera"))
	tesseraLogOnce.Do(func() { klog.SetSlogLogger(slog.New(forwardHandler{})) })
}

// forwardHandler hands records to tesseraLog's handler at the time they
// are logged, with the attributes and groups added to it since.
type forwardHandler struct {
	// ops are WithAttrs and WithGroup calls, replayed in order.
	ops []func(slog.Handler) slog.Handler
}

func (f forwardHandler) target() slog.Handler {
	h := tesseraLog.Load().Handler()
	for _, op := range f.ops {
		h = op(h)
	}
	return h
}

func (f forwardHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return tesseraLog.Load().Handler().Enabled(ctx, l)
}

func (f forwardHandler) Handle(ctx context.Context, r slog.Record) error {
	return f.target().Handle(ctx, r)
}

func (f forwardHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return f.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(as) })
}

func (f forwardHandler) WithGroup(name string) slog.Handler {
	return f.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (f forwardHandler) with(op func(slog.Handler) slog.Handler) slog.Handler {
	return forwardHandler{ops: append(f.ops[:len(f.ops):len(f.ops)], op)}
}
