package walletapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheckDialAddress(t *testing.T) {
	for _, tc := range []struct {
		addr          string
		strict, loose bool // allowed without / with allowLoopback
	}{
		{"93.184.215.14:443", true, true},
		{"[2606:4700::6810:84e5]:443", true, true},
		{"127.0.0.1:80", false, true},
		{"[::1]:80", false, true},
		{"10.1.2.3:443", false, false},
		{"172.16.0.1:443", false, false},
		{"192.168.1.1:443", false, false},
		{"169.254.169.254:80", false, false}, // cloud metadata
		{"[fe80::1]:80", false, false},
		{"[fd00::1]:80", false, false},
		{"0.0.0.0:80", false, false},
		{"100.64.1.1:80", false, false},
		{"[::ffff:10.0.0.1]:80", false, false},
	} {
		e1 := checkDialAddress(tc.addr, false)
		e2 := checkDialAddress(tc.addr, true)
		if (e1 == nil) != tc.strict || (e2 == nil) != tc.loose {
			t.Errorf("%s: %v / %v", tc.addr, e1, e2)
		}
	}
}

func TestDefaultClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
	if _, err := NewHTTPClient(time.Second, false).Do(req); !errors.Is(err, errForbiddenAddress) {
		t.Fatalf("loopback refused: %v", err)
	}
	resp, err := NewHTTPClient(time.Second, true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
