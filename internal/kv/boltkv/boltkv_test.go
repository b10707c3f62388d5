package boltkv_test

import (
	"path/filepath"
	"testing"

	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/kvtest"
)

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestConformanceNoSync(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := boltkv.OpenWith(filepath.Join(t.TempDir(), "nosync.db"), boltkv.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
