package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
)

// TestWebhooksAreSigned: `medid serve` signs the webhooks of OpenID4VP
// sessions (Medid-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">)
// with the secret it generated into <data>/webhook-secret, or with
// MEDID_WEBHOOK_SECRET when set; a receiver holding the secret can check
// both, and a wrong secret does not match.
func TestWebhooksAreSigned(t *testing.T) {
	type hook struct {
		sig  string
		body []byte
	}
	got := make(chan hook, 4)
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- hook{r.Header.Get("Medid-Signature"), b}
	}))
	defer recv.Close()

	for _, configured := range []string{"", strings.Repeat("s3cr3t-", 6)} {
		data := tempData(t)
		srv := startServerConfig(t, &config.Config{DataDir: data, LogLevel: "warn", WebhookSecret: configured},
			app.Options{WebhookClient: recv.Client()})
		secret := configured
		if secret == "" {
			b, err := os.ReadFile(filepath.Join(data, "webhook-secret"))
			if err != nil {
				t.Fatalf("generated webhook secret: %v", err)
			}
			secret = strings.TrimSpace(string(b))
		} else if _, err := os.Stat(filepath.Join(data, "webhook-secret")); err == nil {
			t.Fatal("a webhook secret was generated although MEDID_WEBHOOK_SECRET was set")
		}

		code, sess := postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, map[string]any{"template": "patient-identity",
			"purpose": "Sign in", "webhook_url": recv.URL + "/hook"})
		if code != http.StatusCreated {
			t.Fatalf("session: %d %v", code, sess)
		}
		_, req := walletRequest(t, srv, sess["authorization_request"].(string))
		// A vp_token that is not a presentation: the session fails, and
		// settles, which sends the webhook.
		resp, err := http.PostForm(req["response_uri"].(string), url.Values{"vp_token": {`{"patient_identity":["not-a-presentation"]}`}, "state": {req["state"].(string)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		var h hook
		select {
		case h = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("no webhook")
		}
		var st map[string]any
		if err := json.Unmarshal(h.body, &st); err != nil || st["id"] != sess["id"] || st["status"] != "failed" {
			t.Fatalf("webhook body %s (%v)", h.body, err)
		}
		ts, mac, ok := strings.Cut(strings.TrimPrefix(h.sig, "t="), ",v1=")
		if !ok || !strings.HasPrefix(h.sig, "t=") {
			t.Fatalf("Medid-Signature %q", h.sig)
		}
		sign := func(key string) string {
			m := hmac.New(sha256.New, []byte(key))
			m.Write([]byte(ts + "."))
			m.Write(h.body)
			return hex.EncodeToString(m.Sum(nil))
		}
		if mac != sign(secret) {
			t.Fatalf("Medid-Signature %q does not check with the server's webhook secret", h.sig)
		}
		if mac == sign(secret+"x") {
			t.Fatal("the signature checks with another secret")
		}
		srv.Stop(t)
	}
}
