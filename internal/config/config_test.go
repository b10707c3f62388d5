package config

import (
	"flag"
	"strings"
	"testing"
)

func parse(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c := Bind(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "data" || c.BaseURL != "http://127.0.0.1:8080" || c.RedisURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
	if got := c.LedgerOrigin(); got != "127.0.0.1:8080/ledger" {
		t.Fatalf("origin %q", got)
	}
}

func TestEnvTwinsAndFlagsWin(t *testing.T) {
	env := map[string]string{"MEDID_ADDR": "127.0.0.1:9000", "MEDID_DATA_DIR": "/tmp/x", "MEDID_REDIS_URL": "redis://127.0.0.1:6379/2",
		"MEDID_BASE_URL": "https://id.example.org/", "MEDID_ADMIN_TOKEN": "0123456789abcdef0123",
		"MEDID_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef"}
	c, err := parse(t, env, "--addr", "127.0.0.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9001" || c.DataDir != "/tmp/x" || c.RedisURL != "redis://127.0.0.1:6379/2" || c.BaseURL != "https://id.example.org" || c.AdminToken == "" || c.WebhookSecret == "" {
		t.Fatalf("%+v", c)
	}
	if c2, err := parse(t, map[string]string{"MEDID_ISSUER_DID": "did:web:id.example.org"}); err != nil || c2.IssuerDID != "did:web:id.example.org" {
		t.Fatalf("MEDID_ISSUER_DID: %v %+v", err, c2)
	}
	if c.LedgerOrigin() != "id.example.org/ledger" {
		t.Fatal(c.LedgerOrigin())
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--addr", "nope"}, "--addr"},
		{nil, []string{"--tls-cert", "a.pem"}, "go together"},
		{nil, []string{"--base-url", "ftp://x"}, "--base-url"},
		{nil, []string{"--redis", "http://x"}, "--redis"},
		{map[string]string{"MEDID_ADMIN_TOKEN": "short"}, nil, "MEDID_ADMIN_TOKEN"},
		{map[string]string{"MEDID_WEBHOOK_SECRET": "0123456789abcdef0123456789abcde"}, nil, "MEDID_WEBHOOK_SECRET"},
		{nil, []string{"--log-level", "loud"}, "--log-level"},
		{map[string]string{"MEDID_ISSUER_DID": "https://example.org"}, nil, "--issuer-did"},
		{nil, []string{"--issuer-did", "did:web:example.org#key-1"}, "--issuer-did"},
		{nil, []string{"--verifier-redirect-uri", "openid4vp://x"}, "--verifier-redirect-uri"},
		{nil, []string{"--verifier-x509-chain", "chain.pem"}, "go together"},
	} {
		_, err := parse(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want error mentioning %q", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestTLSDefaultsToHTTPS(t *testing.T) {
	c, err := parse(t, nil, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--addr", "0.0.0.0:8443")
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "https://127.0.0.1:8443" {
		t.Fatal(c.BaseURL)
	}
}

func TestWalletOrigins(t *testing.T) {
	c, err := parse(t, map[string]string{"MEDID_WALLET_ORIGINS": "https://Wallet.Example:443, http://localhost:5173,,http://[::1]:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.WalletOrigins, " "); got != "https://wallet.example http://localhost:5173 http://[::1]:8080" {
		t.Fatalf("from the environment: %q", got)
	}
	c, err = parse(t, map[string]string{"MEDID_WALLET_ORIGINS": "https://a.example"}, "--wallet-origins", "https://b.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.WalletOrigins, " "); got != "https://b.example:8443" {
		t.Fatalf("the flag should win: %q", got)
	}
	if c, err := parse(t, nil); err != nil || len(c.WalletOrigins) != 0 {
		t.Fatalf("default: %v %v", c.WalletOrigins, err)
	}
	for _, bad := range []string{"http://wallet.example", "https://wallet.example/app", "https://wallet.example?x=1",
		"https://user@wallet.example", "wallet.example", "*", "null", "https://wallet.example#f", "ftp://wallet.example"} {
		if _, err := parse(t, nil, "--wallet-origins", bad); err == nil || !strings.Contains(err.Error(), "--wallet-origins") {
			t.Errorf("%q accepted (%v)", bad, err)
		}
	}
}
