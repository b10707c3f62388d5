package issuer

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
)

// The single-use guarantees of DPoP and deferred issuance hold on real
// Redis too (skipped when Redis is down, except in CI).
func TestSingleUseOnRedis(t *testing.T) {
	store, err := rediskv.Open(kvtest.RedisURL(t), "medid-issuer-test:"+randomToken(6)+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newEnvOn(t, store)

	t.Run("DPoP jti", func(t *testing.T) {
		dk, _ := keys.Generate(keys.EdDSA)
		in := DPoPInput{Method: "POST", URL: e.url + "/token"}
		in.Proofs = []string{dpop(t, dk, dpopOpts{htu: in.URL, iat: e.clock.Now()})}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.svc.checkDPoP(context.Background(), in, "", "", 400); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d accepted uses of one DPoP proof", ok)
		}
	})
	t.Run("deferred transaction", func(t *testing.T) {
		w := newWallet(e, 1)
		offerID, at, tx := e.deferredRequest(w)
		if s, out := e.deferredFetch(at, tx); s != http.StatusAccepted {
			t.Fatalf("pending: %d %v", s, out)
		}
		e.approve(offerID, admin)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[int]int{}
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, _ := e.deferredFetch(at, tx)
				mu.Lock()
				got[s]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if got[200] != 1 || got[400] != 9 {
			t.Fatalf("statuses of concurrent fetches: %v", got)
		}
	})
}
