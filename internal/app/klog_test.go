package app

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"k8s.io/klog/v2"
)

// TestTesseraLogForwarding: klog's lines go to the newest App's logger,
// with the attributes added through klog, and switching loggers while
// klog logs is not a race (run with -race).
func TestTesseraLogForwarding(t *testing.T) {
	var first, second bytes.Buffer
	var mu sync.Mutex
	logTo := func(b *bytes.Buffer) *slog.Logger {
		return slog.New(slog.NewTextHandler(lockedWriter{&mu, b}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	logTesseraTo(logTo(&first))
	klog.InfoS("first line", "k", "v1")
	klog.Flush()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			klog.InfoS("during the switch")
		}
	}()
	logTesseraTo(logTo(&second))
	<-done
	klog.InfoS("second line", "k", "v2")
	klog.Flush()

	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(first.String(), "first line") || !strings.Contains(first.String(), "k=v1") ||
		!strings.Contains(first.String(), "component=tessera") || strings.Contains(first.String(), "second line") {
		t.Fatalf("first logger got:\n%s", first.String())
	}
	if !strings.Contains(second.String(), "second line") || !strings.Contains(second.String(), "k=v2") {
		t.Fatalf("second logger got:\n%s", second.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
