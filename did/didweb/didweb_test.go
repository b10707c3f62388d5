package didweb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
)

func docJSON(id string) string {
	return `{"@context":["https://www.w3.org/ns/did/v1","https://w3id.org/security/multikey/v1"],` +
		`"id":"` + id + `","verificationMethod":[{"id":"` + id + `#key-1","type":"Multikey","controller":"` + id + `",` +
		`"publicKeyMultibase":"z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}],"authentication":["#key-1"]}`
}

func parse(t *testing.T, s string) did.DID {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return d
}

func TestDocumentURL(t *testing.T) {
	secure, insecure := New(nil, false), New(nil, true)
	tests := []struct {
		did      string
		m        *Method
		want     string // "" means invalid
		insecure string // URL with allowInsecureLoopback, if it differs
	}{
		{did: "did:web:example.com", want: "https://example.com/.well-known/did.json"},
		{did: "did:web:example.com:user:alice", want: "https://example.com/user/alice/did.json"},
		{did: "did:web:example.com%3A3000:user:alice", want: "https://example.com:3000/user/alice/did.json"},
		{did: "did:web:w3c-ccg.github.io", want: "https://w3c-ccg.github.io/.well-known/did.json"},
		{did: "did:web:example.com:a%20b", want: "https://example.com/a%20b/did.json"},
		{did: "did:web:example.com:a%3Fb", want: "https://example.com/a%3Fb/did.json"},
		{did: "did:web:localhost%3A8080", want: "https://localhost:8080/.well-known/did.json", insecure: "http://localhost:8080/.well-known/did.json"},
		{did: "did:web:LOCALHOST", want: "https://LOCALHOST/.well-known/did.json", insecure: "http://LOCALHOST/.well-known/did.json"},
		{did: "did:web:127.0.0.1%3A8080", insecure: "http://127.0.0.1:8080/.well-known/did.json"},
		{did: "did:web:127.9.9.9:x", insecure: "http://127.9.9.9/x/did.json"},
		{did: "did:web:%5B%3A%3A1%5D%3A8080", insecure: "http://[::1]:8080/.well-known/did.json"},
		{did: "did:web:%5B%3A%3A1%5D", insecure: "http://[::1]/.well-known/did.json"},
		{did: "did:web:%3A%3A1"},
		{did: "did:web:%5B127.0.0.1%5D"},
		{did: "did:web:10.0.0.1"},
		{did: "did:web:169.254.169.254"},
		{did: "did:web:exa_mple.com"},
		{did: "did:web:-example.com"},
		{did: "did:web:example..com"},
		{did: "did:web:user%40example.com"},
		{did: "did:web:example.com%2Fevil"},
		{did: "did:web:example.com%3A"},
		{did: "did:web:example.com%3A0"},
		{did: "did:web:example.com%3A99999"},
		{did: "did:web:example.com%3A080"},
		{did: "did:web:example.com%3Ahttp"},
		{did: "did:web:example.com::alice"},
		{did: "did:web:example.com:..:alice"},
		{did: "did:web:example.com:."},
		{did: "did:web:example.com:a%2Fb"},
		{did: "did:web:example.com:a%5Cb"},
		{did: "did:web:example.com:a%0Ab"},
		{did: "did:web:" + strings.Repeat("a", 64) + ".com"},
		{did: "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
	}
	for _, tt := range tests {
		for _, m := range []*Method{secure, insecure} {
			want := tt.want
			if m == insecure && tt.insecure != "" {
				want = tt.insecure
			}
			u, err := m.documentURL(parse(t, tt.did))
			switch {
			case want == "" && err == nil:
				t.Errorf("documentURL(%s, insecure=%v) = %s, want error", tt.did, m.insecureLoopback, u)
			case want != "" && err != nil:
				t.Errorf("documentURL(%s, insecure=%v): %v", tt.did, m.insecureLoopback, err)
			case want != "" && u.String() != want:
				t.Errorf("documentURL(%s, insecure=%v) = %s, want %s", tt.did, m.insecureLoopback, u, want)
			}
		}
	}
}

// loopbackDID returns the did:web DID for a path on an httptest server.
func loopbackDID(srv *httptest.Server, path ...string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
	return "did:web:" + strings.ReplaceAll(host, ":", "%3A") + strings.Join(append([]string{""}, path...), ":")
}

func TestResolveInsecureLoopback(t *testing.T) {
	var mu sync.Mutex
	var gotAccept string
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	root, alice := loopbackDID(srv), loopbackDID(srv, "user", "alice")
	mux.HandleFunc("/.well-known/did.json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAccept = r.Header.Get("Accept")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/did+json")
		fmt.Fprint(w, docJSON(root))
	})
	mux.HandleFunc("/user/alice/did.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, docJSON(alice))
	})

	m := New(srv.Client(), true)
	r := did.NewResolver(m)
	for _, s := range []string{root, alice} {
		res, err := r.Resolve(context.Background(), s, did.ResolutionOptions{})
		if err != nil {
			t.Fatalf("Resolve(%s): %v", s, err)
		}
		if res.Document.ID != s || !res.Document.Authorized(did.Authentication, "#key-1") {
			t.Fatalf("Resolve(%s) = %+v", s, res.Document)
		}
	}
	mu.Lock()
	if !strings.Contains(gotAccept, "application/did+json") {
		t.Errorf("Accept = %q", gotAccept)
	}
	mu.Unlock()

	// Without the flag, loopback IPs are refused before any request.
	_, err := New(srv.Client(), false).Resolve(context.Background(), parse(t, root), did.ResolutionOptions{})
	if !errors.Is(err, did.ErrInvalidDID) {
		t.Fatalf("secure method on a loopback IP: %v", err)
	}

	// Version options are not supported.
	_, err = m.Resolve(context.Background(), parse(t, root), did.ResolutionOptions{VersionID: "1"})
	if !errors.Is(err, did.ErrInvalidOptions) {
		t.Fatalf("versionId: %v", err)
	}
	_, err = m.Resolve(context.Background(), parse(t, root), did.ResolutionOptions{VersionTime: time.Now()})
	if !errors.Is(err, did.ErrInvalidOptions) {
		t.Fatalf("versionTime: %v", err)
	}
}

// tlsClient returns a client that trusts srv's certificate (valid for
// example.com) and dials srv whatever host it is asked for.
func tlsClient(srv *httptest.Server) *http.Client {
	c := srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c.Transport = tr
	return c
}

func TestResolveHTTPS(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	serve := func(path, id, ct string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			fmt.Fprint(w, docJSON(id))
		})
	}
	serve("/.well-known/did.json", "did:web:example.com", "application/did+ld+json")
	serve("/user/alice/did.json", "did:web:example.com:user:alice", "application/did+json")
	serve("/port/did.json", "did:web:example.com%3A8443:port", "application/json")
	serve("/wrongid/did.json", "did:web:example.com:someone-else", "application/did+json")
	serve("/html/did.json", "did:web:example.com:html", "text/html")
	serve("/noct/did.json", "did:web:example.com:noct", "")
	mux.HandleFunc("/invalid/did.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/did+json")
		fmt.Fprint(w, `{"id":"did:web:example.com:invalid","authentication":["#nope"]}`)
	})
	mux.HandleFunc("/garbage/did.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/did+json")
		fmt.Fprint(w, `{"id":`)
	})
	mux.HandleFunc("/big/did.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/did+json")
		fmt.Fprint(w, `{"id":"did:web:example.com:big","alsoKnownAs":["`+strings.Repeat("a", MaxDocumentSize)+`"]}`)
	})
	mux.HandleFunc("/bigchunked/did.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/did+json")
		fmt.Fprint(w, `{"id":"did:web:example.com:bigchunked","alsoKnownAs":["`)
		w.(http.Flusher).Flush() // no Content-Length
		fmt.Fprint(w, strings.Repeat("a", MaxDocumentSize)+`"]}`)
	})
	mux.HandleFunc("/error/did.json", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/gone/did.json", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	})
	mux.HandleFunc("/slow/did.json", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/to-http/did.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.com/user/alice/did.json", http.StatusFound)
	})
	mux.HandleFunc("/to-https/did.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/user/alice/did.json", http.StatusFound)
	})
	mux.HandleFunc("/loop/did.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop/did.json", http.StatusFound)
	})

	m := New(tlsClient(srv), false)
	ctx := context.Background()
	for _, s := range []string{"did:web:example.com", "did:web:example.com:user:alice", "did:web:example.com%3A8443:port"} {
		res, err := m.Resolve(ctx, parse(t, s), did.ResolutionOptions{})
		if err != nil {
			t.Fatalf("Resolve(%s): %v", s, err)
		}
		if res.Document.ID != s {
			t.Fatalf("Resolve(%s) id = %s", s, res.Document.ID)
		}
	}
	// A redirect to HTTPS is followed, but the document must still be the
	// DID's own.
	if _, err := m.Resolve(ctx, parse(t, "did:web:example.com:to-https"), did.ResolutionOptions{}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("to-https: %v", err)
	}

	failures := []struct {
		did      string
		notFound bool
		want     string
	}{
		{"did:web:example.com:missing", true, "404"},
		{"did:web:example.com:gone", true, "410"},
		{"did:web:example.com:error", false, "500"},
		{"did:web:example.com:wrongid", false, "does not match"},
		{"did:web:example.com:html", false, "Content-Type"},
		{"did:web:example.com:noct", false, "Content-Type"},
		{"did:web:example.com:invalid", false, "authentication[0]"},
		{"did:web:example.com:garbage", false, "did:web"},
		{"did:web:example.com:big", false, "larger than"},
		{"did:web:example.com:bigchunked", false, "larger than"},
		{"did:web:example.com:to-http", false, "non-HTTPS"},
		{"did:web:example.com:loop", false, "too many redirects"},
	}
	for _, tt := range failures {
		_, err := m.Resolve(ctx, parse(t, tt.did), did.ResolutionOptions{})
		if err == nil || errors.Is(err, did.ErrNotFound) != tt.notFound || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%s) = %v; want notFound=%v and %q", tt.did, err, tt.notFound, tt.want)
		}
		if !tt.notFound && did.ErrorType(err) != "internalError" {
			t.Errorf("Resolve(%s): error type %s", tt.did, did.ErrorType(err))
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Resolve(ctx, parse(t, "did:web:example.com:slow"), did.ResolutionOptions{})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("slow: %v after %v", err, time.Since(start))
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDefaultTimeout(t *testing.T) {
	var deadline time.Time
	var ok bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		deadline, ok = r.Context().Deadline()
		return nil, errors.New("no network in this test")
	})}
	_, err := New(client, false).Resolve(context.Background(), parse(t, "did:web:example.com"), did.ResolutionOptions{})
	if err == nil || !ok {
		t.Fatalf("err %v, deadline set %v", err, ok)
	}
	if d := time.Until(deadline); d < DefaultTimeout-time.Second || d > DefaultTimeout {
		t.Fatalf("deadline in %v, want about %v", d, DefaultTimeout)
	}
	// The caller's client is not modified.
	if client.CheckRedirect != nil {
		t.Fatal("New modified the caller's client")
	}
}
