package keys

import "testing"

func TestPKCS8RoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{ES256, EdDSA} {
		k, err := Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		der, err := ExportPKCS8(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePKCS8(der)
		if err != nil {
			t.Fatal(err)
		}
		if back.Algorithm() != alg || back.Thumbprint() != k.Thumbprint() {
			t.Fatalf("%s: round trip changed the key", alg)
		}
	}
	if _, err := ParsePKCS8([]byte("junk")); err == nil {
		t.Fatal("junk accepted")
	}
}
