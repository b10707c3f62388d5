package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
)

// testCA writes a private CA and a leaf for 127.0.0.1 (as a dNSName,
// which the verifier's signer looks for, and as an IP address, which
// certificate verification uses for an IP host) to dir, and returns the
// CA, the chain file and the key file.
func testCA(t *testing.T, dir string) (*x509.Certificate, string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	from := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "medid test CA"},
		NotBefore: from, NotAfter: from.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "clinic verifier"},
		DNSNames: []string{"127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: from, NotAfter: from.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	chain := filepath.Join(dir, "chain.pem")
	key := filepath.Join(dir, "key.pem")
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	if err := os.WriteFile(chain, append(pemOf("CERTIFICATE", leafDER), pemOf("CERTIFICATE", caDER)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pemOf("PRIVATE KEY", keyDER), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca, chain, key
}

// TestWalletPresentsToAnX509Verifier: the server's verifier signs a
// session's request with its x509_san_dns certificate; the wallet, which
// trusts the certificate's CA, checks the chain and the signature, shows
// the request as signed by that name, and presents; the session is
// verified. A wallet that does not trust the CA refuses the request
// before showing anything.
func TestWalletPresentsToAnX509Verifier(t *testing.T) {
	dir := t.TempDir()
	ca, chain, key := testCA(t, dir)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	cfg := func() *config.Config {
		return &config.Config{DataDir: filepath.Join(dir, "data"), LogLevel: "warn", VerifierX509Chain: chain, VerifierX509Key: key}
	}
	srv := startServerConfig(t, cfg(), app.Options{WalletX509Roots: roots})

	tok := walletAccount(t, srv, "xena")
	walletReceive(t, srv, tok, "PatientIdentityCredential_dc+sd-jwt")

	code, vs := postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, map[string]any{
		"template": "patient-identity", "purpose": "Check in", "client_id_prefix": "x509_san_dns"})
	wantStatus(t, "x509 session", code, vs, http.StatusCreated)
	link, sid := vs["authorization_request"].(string), vs["id"].(string)
	if !strings.Contains(link, "client_id=x509_san_dns%3A127.0.0.1") {
		t.Fatalf("link %s", link)
	}
	code, pv := walletCall(t, "POST", srv.URL+"/wallet/presentations/preview", tok, map[string]any{"request": link})
	wantStatus(t, "preview", code, pv, http.StatusOK)
	if str(t, pv, "client_id_prefix") != "x509_san_dns" || !strings.HasPrefix(str(t, pv, "signed_by"), "x509_san_dns:127.0.0.1") ||
		walk(pv, "satisfiable") != true {
		t.Fatalf("preview: %v", pv)
	}
	code, res := walletCall(t, "POST", srv.URL+"/wallet/presentations", tok, map[string]any{"request": link})
	wantStatus(t, "present", code, res, http.StatusOK)
	code, st := walletCall(t, "GET", srv.URL+"/verifier/sessions/"+sid, srv.Admin, nil)
	wantStatus(t, "session status", code, st, http.StatusOK)
	if str(t, st, "status") != "verified" || str(t, st, "credentials", "patient_identity", 0, "claims", "given_name") != "Ada" {
		t.Fatalf("session: %v", st)
	}

	// The same server with a wallet that trusts only the system's roots.
	srv.Stop(t)
	srv = startServerConfig(t, cfg(), app.Options{})
	code, vs = postJSON(t, srv.URL+"/verifier/sessions", srv.Admin, map[string]any{
		"template": "patient-identity", "purpose": "Check in", "client_id_prefix": "x509_san_dns"})
	wantStatus(t, "x509 session", code, vs, http.StatusCreated)
	code, pv = walletCall(t, "POST", srv.URL+"/wallet/presentations/preview", walletAccount(t, srv, "yann"), map[string]any{"request": vs["authorization_request"]})
	if code != http.StatusUnprocessableEntity || !strings.HasSuffix(str(t, pv, "type"), "#untrusted-verifier") {
		t.Fatalf("preview with an untrusted CA: %d %v", code, pv)
	}
}

// walletAccount creates a wallet account on srv and returns a session
// token for it.
func walletAccount(t *testing.T, srv *server, username string) string {
	t.Helper()
	creds := map[string]any{"username": username, "password": "correct horse battery staple"}
	code, out := walletCall(t, "POST", srv.URL+"/wallet/accounts", "", creds)
	wantStatus(t, "create account", code, out, http.StatusCreated)
	code, sess := walletCall(t, "POST", srv.URL+"/wallet/sessions", "", creds)
	wantStatus(t, "sign in", code, sess, http.StatusCreated)
	return str(t, sess, "token")
}

// walletReceive has srv's issuer offer patientClaims in configuration
// cfg and the wallet session tok accept it; it returns the accepted
// answer.
func walletReceive(t *testing.T, srv *server, tok, cfg string) map[string]any {
	t.Helper()
	var claims map[string]any
	json.Unmarshal([]byte(patientClaims), &claims)
	code, o := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
		"credential_configuration_ids": []string{cfg}, "claims": claims})
	wantStatus(t, "offer", code, o, http.StatusCreated)
	code, acc := walletCall(t, "POST", srv.URL+"/wallet/offers", tok, map[string]any{"offer": o["offer_uri"], "accept": true})
	wantStatus(t, "accept the offer", code, acc, http.StatusCreated)
	return acc
}
