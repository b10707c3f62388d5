package vpclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vpclient"
)

// x509Chain makes a CA and a leaf for dns, valid around now.
func x509Chain(t *testing.T, dns string) (ca *x509.Certificate, leaf *x509.Certificate, leafKey *ecdsa.PrivateKey) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(leafDER)
	return ca, leaf, leafKey
}

// signX5c signs p as an ES256 request object with x5c in its header.
func signX5c(t *testing.T, k *ecdsa.PrivateKey, x5c []*x509.Certificate, p map[string]any) string {
	t.Helper()
	chain := make([]string, len(x5c))
	for i, c := range x5c {
		chain[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": vpclient.TypRequestObject, "x5c": chain})
	b, _ := json.Marshal(p)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(input))
	der, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.RawP256Signature(der)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestVerifyX509Request: an x509_san_dns request object is accepted only
// when its x5c leaf names the client_id's DNS name, chains to the
// wallet's roots, signed the object, and the response goes to that host.
func TestVerifyX509Request(t *testing.T) {
	const host = "verifier.example"
	ca, leaf, leafKey := x509Chain(t, host)
	_, otherLeaf, otherKey := x509Chain(t, host) // another CA's
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	x509Params := func(clientID, responseURI string) map[string]any {
		p := params()
		p["client_id"], p["response_uri"] = clientID, responseURI
		return p
	}
	link := func(clientID string) *vpclient.Link {
		return &vpclient.Link{ClientID: clientID, RequestURI: "https://" + host + "/requests/1", RequestURIMethod: "get"}
	}
	cid := "x509_san_dns:" + host
	opts := vpclient.VerifyOptions{Now: func() time.Time { return now }, X509Roots: roots}
	good := x509Params(cid, "https://"+host+"/responses/1")

	r, err := vpclient.VerifyRequestObject(context.Background(), signX5c(t, leafKey, []*x509.Certificate{leaf}, good), link(cid), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.SignedBy, cid) || r.ResponseURI != "https://"+host+"/responses/1" {
		t.Fatalf("request %+v", r)
	}

	systemRoots := opts
	systemRoots.X509Roots = nil
	late := opts
	late.Now = func() time.Time { return now.Add(48 * time.Hour) }
	for _, c := range []struct {
		name string
		jwt  string
		cid  string
		opts vpclient.VerifyOptions
		want error
	}{
		{"not under the wallet's roots", signX5c(t, leafKey, []*x509.Certificate{leaf}, good), cid, systemRoots, vpclient.ErrUntrusted},
		{"another CA's certificate", signX5c(t, otherKey, []*x509.Certificate{otherLeaf}, good), cid, opts, vpclient.ErrUntrusted},
		{"signed by another key", signX5c(t, otherKey, []*x509.Certificate{leaf}, good), cid, opts, vpclient.ErrUntrusted},
		{"certificate for another name", signX5c(t, leafKey, []*x509.Certificate{leaf}, x509Params("x509_san_dns:other.example", "https://other.example/r")), "x509_san_dns:other.example", opts, vpclient.ErrUntrusted},
		{"no x5c", signX5c(t, leafKey, nil, good), cid, opts, vpclient.ErrUntrusted},
		{"expired certificate", signX5c(t, leafKey, []*x509.Certificate{leaf}, good), cid, late, vpclient.ErrUntrusted},
		{"response elsewhere", signX5c(t, leafKey, []*x509.Certificate{leaf}, x509Params(cid, "https://evil.example/responses/1")), cid, opts, vpclient.ErrInvalidRequest},
	} {
		if _, err := vpclient.VerifyRequestObject(context.Background(), c.jwt, link(c.cid), c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
