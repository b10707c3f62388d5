package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
	"github.com/medid/medid/openapi"
)

// TestShutdownLosesNothingAcknowledged stops the server while creates are
// in flight: every create that was answered 201 resolves after a restart.
func TestShutdownLosesNothingAcknowledged(t *testing.T) {
	data := tempData(t)
	srv := startServer(t, data, nil)
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/1.0/create?method=medid", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+srv.Admin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is going away
				}
				var st struct {
					DIDState struct {
						DID string `json:"did"`
					} `json:"didState"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&st)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, st.DIDState.DID)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	srv.Stop(t) // graceful: in-flight requests finish, the ledger is flushed
	close(stop)
	wg.Wait()
	if len(acked) < 8 {
		t.Fatalf("only %d creates acknowledged before shutdown", len(acked))
	}
	srv = startServer(t, data, nil)
	for _, d := range acked {
		r := resolveResult(t, srv.URL, d, "", 200)
		if r.Meta.LedgerProof == nil || r.Meta.LedgerProof.Checkpoint == "" {
			t.Fatalf("%s: acknowledged before shutdown but its entry has no checkpoint after restart", d)
		}
	}
	t.Logf("%d acknowledged creates all resolve with proofs after restart", len(acked))
}

// TestRedisMode runs the registry with shared state in the real Redis.
func TestRedisMode(t *testing.T) {
	url := kvtest.RedisURL(t)
	prefix := "medid-e2e-" + uuid.NewString() + ":"
	srv := startServer(t, tempData(t), map[string]string{"MEDID_REDIS_URL": url, "REDIS_PREFIX": prefix})
	st, err := (&clientFor{srv.URL}).adminCreate(t, srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	resolveResult(t, srv.URL, st, "", 200)
	// The DID's private keys are in Redis (encrypted), not in the local file.
	store, err := rediskv.Open(url, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := 0
	err = store.List(context.Background(), "keys/did/"+st+"/", func(k string, v []byte) error {
		n++
		if bytes.Contains(v, []byte("PRIVATE")) {
			t.Errorf("%s looks unencrypted", k)
		}
		return nil
	})
	if err != nil || n < 4 { // update, recovery and two verification keys
		t.Fatalf("keys in Redis for %s: %d (%v)", st, n, err)
	}
	t.Cleanup(func() {
		var keys []string
		_ = store.List(context.Background(), "", func(k string, _ []byte) error { keys = append(keys, k); return nil })
		for _, k := range keys {
			_ = store.Delete(context.Background(), k)
		}
	})
}

type clientFor struct{ base string }

func (c *clientFor) adminCreate(t *testing.T, token string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, c.base+"/1.0/create?method=medid", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st struct {
		DIDState struct {
			DID string `json:"did"`
		} `json:"didState"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("admin create: %d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return "", err
	}
	return st.DIDState.DID, nil
}

// TestTLS serves HTTPS directly with --tls-cert/--tls-key.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Addr: l.Addr().String(), DataDir: filepath.Join(dir, "data"), TLSCert: certFile, TLSKey: keyFile, LogLevel: "error"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.BaseURL, "https://") {
		t.Fatalf("base URL %s", cfg.BaseURL)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = hc.Get(cfg.BaseURL + "/healthz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	// The server's DID publishes the https ledger URL.
	r := resolveResultWith(t, hc, cfg.BaseURL, a.ServerDID)
	if !bytes.Contains(r, []byte(cfg.BaseURL+"/ledger/")) {
		t.Fatalf("server DID does not point at the https ledger: %s", r)
	}
}

func resolveResultWith(t *testing.T, hc *http.Client, base, d string) []byte {
	t.Helper()
	resp, err := hc.Get(base + "/1.0/identifiers/" + d)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("resolve: %d %s", resp.StatusCode, b)
	}
	return b
}

func selfSigned(t *testing.T) ([]byte, []byte) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "medid test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// TestOperationalEndpoints: metrics, the contract, and problem+json for
// unknown routes.
func TestOperationalEndpoints(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	resolve(t, srv.URL, srv.App.ServerDID, "", "")
	if m := getText(t, srv.URL+"/metrics"); !strings.Contains(m, `medid_http_requests_total{code="200",route="/1.0/identifiers/:did"}`) ||
		!strings.Contains(m, "medid_ledger_checkpoint_size") {
		t.Fatalf("metrics missing medid series:\n%.2000s", m)
	}

	// A verification waits for a journal sync, and its commitment goes to
	// the ledger: both show.
	holder, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)
	before := metricValue(t, getText(t, srv.URL+"/metrics"), "medid_audit_journal_sync_seconds_count")
	vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}),
		&sdjwt.KeyBindingOptions{Key: holder, Nonce: "metrics-nonce", Audience: "https://clinic.example", IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := postJSON(t, srv.URL+"/presentations/verify", srv.Admin, map[string]any{"verifiablePresentation": vp,
		"options": map[string]any{"challenge": "metrics-nonce", "domain": "https://clinic.example"}}); code != 200 {
		t.Fatalf("verify: %d %v", code, out)
	}
	m := getText(t, srv.URL+"/metrics")
	if after := metricValue(t, m, "medid_audit_journal_sync_seconds_count"); after <= before {
		t.Errorf("journal syncs %v before a verification, %v after", before, after)
	}
	if metricValue(t, m, "medid_audit_healthy") != 1 || metricValue(t, m, "medid_ledger_appended_total") < 1 ||
		metricValue(t, m, "medid_ledger_append_errors_total") != 0 {
		t.Errorf("access log and ledger series:\n%s", grepLines(m, "medid_audit_", "medid_ledger_"))
	}
	for _, name := range []string{"medid_audit_commitments_pending", "medid_ledger_pushbacks_total", "medid_ledger_appends_outstanding"} {
		metricValue(t, m, name)
	}
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, openapi.Spec) {
		t.Fatal("/openapi.yaml does not serve the embedded contract")
	}
	resp, err = http.Get(srv.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// A wrong content type on a JSON API: 415 problem+json, nothing created.
	resp, err = http.Post(srv.URL+"/1.0/create?method=medid", "application/x-www-form-urlencoded", strings.NewReader("a=b"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d", resp.StatusCode)
	}
}

// TestEveryRouteIsDocumented compares the routes the server registers with
// the paths in openapi.yaml, both ways.
func TestEveryRouteIsDocumented(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	documented, err := openapi.Paths()
	if err != nil {
		t.Fatal(err)
	}
	ledgerPaths := []string{"/ledger/checkpoint", "/ledger/key", "/ledger/tile/{level}/{index}", "/ledger/tile/entries/{index}"}
	registered := map[string]bool{}
	for _, r := range srv.App.Echo.Routes() {
		if r.Method == "echo_route_not_found" || strings.HasPrefix(r.Method, "echo") {
			continue
		}
		paths := []string{echoToOpenAPI(r.Path)}
		if r.Path == "/ledger/*" {
			paths = ledgerPaths
		}
		for _, p := range paths {
			registered[r.Method+" "+p] = true
			if !contains(documented[p], r.Method) {
				t.Errorf("route %s %s is not in openapi.yaml", r.Method, p)
			}
		}
	}
	var missing []string
	for p, methods := range documented {
		for _, m := range methods {
			if !registered[m+" "+p] {
				missing = append(missing, m+" "+p)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented but not served: %v", missing)
	}
}

func echoToOpenAPI(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// metricValue returns the value of the unlabelled series name in a
// Prometheus text exposition, failing t when it is missing.
func metricValue(t *testing.T, exposition, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in:\n%s", name, grepLines(exposition, "medid_"))
	return 0
}

// grepLines returns the lines of s that start with one of prefixes.
func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
