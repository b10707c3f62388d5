package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// Load shape of the HTTP benchmarks.
const (
	// benchClients is the number of concurrent clients.
	benchClients = 32
	// benchChallenge and benchDomain are the presentation's binding
	// (options.challenge and options.domain: the Key Binding JWT's nonce
	// and aud).
	benchChallenge = "bench-challenge-0001"
	benchDomain    = "https://clinic.example"
	// benchRefresh is how often the presentation is rebuilt, so that its
	// Key Binding JWT's iat stays within the verifier's 5 minutes.
	benchRefresh = time.Minute
)

// BenchmarkHTTPPresentationsVerify measures POST /presentations/verify of
// an SD-JWT VC PatientIdentityCredential (issued by the same server over
// OpenID4VCI) with a Key Binding JWT, through the real server over
// loopback HTTP from benchClients concurrent keep-alive clients: b.N
// requests in all. In the same run it drives a trivial echo handler on
// another loopback listener the same way, as the baseline.
//
// Metrics: verify_req/s, verify_p50_ms, verify_p99_ms, the same for
// echo_, and verify/echo (the throughput ratio). The target (issue 4) is
// at least 2,000 verifications/s with p99 under 20 ms.
//
// Every verification goes through the whole request path, including the
// access log entry that the VC-API handlers record (a ledger append).
func BenchmarkHTTPPresentationsVerify(b *testing.B) {
	srv := startServer(b, filepath.Join(b.TempDir(), "data"), nil)
	holder, err := keys.Generate(keys.ES256)
	if err != nil {
		b.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(patientClaims), &claims); err != nil {
		b.Fatal(err)
	}
	code, offer := postJSON(b, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
		"credential_configuration_ids": []string{"PatientIdentityCredential_dc+sd-jwt"}, "claims": claims})
	if code != http.StatusCreated {
		b.Fatalf("offer: %d %v", code, offer)
	}
	cred := receive(b, offer["offer_uri"].(string), "", "PatientIdentityCredential_dc+sd-jwt", holder)

	// The request body, rebuilt with a fresh Key Binding JWT every
	// benchRefresh while the load runs.
	var body atomic.Pointer[[]byte]
	build := func() error {
		vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}, []any{"family_name"}, []any{"birthdate"}),
			&sdjwt.KeyBindingOptions{Key: holder, Nonce: benchChallenge, Audience: benchDomain, IssuedAt: time.Now()})
		if err != nil {
			return err
		}
		raw, err := json.Marshal(map[string]any{"verifiablePresentation": vp,
			"options": map[string]any{"challenge": benchChallenge, "domain": benchDomain}})
		if err != nil {
			return err
		}
		body.Store(&raw)
		return nil
	}
	if err := build(); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		tick := time.NewTicker(benchRefresh)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if err := build(); err != nil {
					b.Error(err)
				}
			}
		}
	}()
	defer func() { close(stop); <-refreshed }()

	client := benchClient()
	verify := func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/presentations/verify", bytes.NewReader(*body.Load()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+srv.Admin)
		return req, nil
	}
	// One request first: it must verify, and it warms the status list
	// and key caches as a running server's would be.
	if res := drive(client, verify, 1, 1); res.err != nil {
		b.Fatalf("warm-up: %v", res.err)
	}

	echoURL := echoServer(b)
	echo := func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, echoURL, bytes.NewReader(*body.Load()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+srv.Admin)
		return req, nil
	}

	b.ResetTimer()
	v := drive(client, verify, b.N, benchClients)
	b.StopTimer()
	if v.err != nil {
		b.Fatal(v.err)
	}
	e := drive(client, echo, b.N, benchClients)
	if e.err != nil {
		b.Fatal(e.err)
	}
	b.ReportMetric(v.rate(), "verify_req/s")
	b.ReportMetric(v.pct(50), "verify_p50_ms")
	b.ReportMetric(v.pct(99), "verify_p99_ms")
	b.ReportMetric(e.rate(), "echo_req/s")
	b.ReportMetric(e.pct(50), "echo_p50_ms")
	b.ReportMetric(e.pct(99), "echo_p99_ms")
	b.ReportMetric(v.rate()/e.rate(), "verify/echo")
}

// loadResult is the outcome of one drive.
type loadResult struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration // sorted
	err     error
}

func (r loadResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// pct returns the p-th percentile latency in milliseconds.
func (r loadResult) pct(p float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p/100+0.5) - 1
	i = max(0, min(i, len(r.lat)-1))
	return float64(r.lat[i]) / float64(time.Millisecond)
}

// drive sends n requests made by mk from clients concurrent goroutines,
// each waiting for its answer before the next, and stops at the first
// answer other than 200.
func drive(client *http.Client, mk func() (*http.Request, error), n, clients int) loadResult {
	var next atomic.Int64
	var failed atomic.Bool
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/clients+1)
			for int(next.Add(1)) <= n && !failed.Load() {
				req, err := mk()
				if err != nil {
					fail(err)
					return
				}
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t))
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Errorf("%s: %d %.300s", req.URL.Path, resp.StatusCode, b))
					return
				}
			}
			lats[c] = mine
		}()
	}
	wg.Wait()
	r := loadResult{n: n, elapsed: time.Since(start), lat: slices.Concat(lats...), err: firstErr}
	slices.Sort(r.lat)
	return r
}

// benchClient is an HTTP client that keeps one connection per concurrent
// client alive.
func benchClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * benchClients
	t.MaxIdleConnsPerHost = 2 * benchClients
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// echoServer runs the baseline on a loopback listener: a handler that
// reads the request body and writes it back.
func echoServer(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	return "http://" + l.Addr().String() + "/echo"
}
