package dataintegrity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The published test vectors: see testdata/vectors/SOURCE.md.

type keyPair struct {
	Public  string `json:"publicKeyMultibase"`
	Private string `json:"privateKeyMultibase"`
	Secret  string `json:"secretKeyMultibase"`
}

func readFile(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readKeyPair(t testing.TB, dir string) keyPair {
	t.Helper()
	var kp keyPair
	if err := json.Unmarshal(readFile(t, "vectors", dir, "keyPair.json"), &kp); err != nil {
		t.Fatal(err)
	}
	if kp.Private == "" {
		kp.Private = kp.Secret
	}
	return kp
}

// multibaseKey decodes a Multikey (public or private) of the three kinds
// the vectors use.
func multibaseKey(t testing.TB, s string) any {
	t.Helper()
	b, err := base58Decode(strings.TrimPrefix(s, "z"), 100)
	if err != nil || len(b) < 2 {
		t.Fatalf("multibase %q: %v", s, err)
	}
	prefix, key := [2]byte{b[0], b[1]}, b[2:]
	switch prefix {
	case [2]byte{0xed, 0x01}: // ed25519-pub
		return ed25519.PublicKey(key)
	case [2]byte{0x80, 0x26}: // ed25519-priv
		return ed25519.NewKeyFromSeed(key)
	case [2]byte{0x80, 0x24}: // p256-pub
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), key)
		return &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
	case [2]byte{0x81, 0x24}: // p384-pub
		x, y := elliptic.UnmarshalCompressed(elliptic.P384(), key)
		return &ecdsa.PublicKey{Curve: elliptic.P384(), X: x, Y: y}
	case [2]byte{0x86, 0x26}: // p256-priv
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), key)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case [2]byte{0x87, 0x26}: // p384-priv
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), key)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	t.Fatalf("unknown multicodec prefix %x", prefix)
	return nil
}

func staticKey(vm string, pub crypto.PublicKey) KeyResolver {
	return func(_ context.Context, m string, _ time.Time) (crypto.PublicKey, error) {
		if m != vm {
			return nil, errors.New("unknown verification method")
		}
		return pub, nil
	}
}

func removeProof(t testing.TB, signed []byte) ([]byte, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(signed, &m); err != nil {
		t.Fatal(err)
	}
	proof := m["proof"].(map[string]any)
	delete(m, "proof")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b, proof
}

var vectorNow = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// TestEdDSAVector reproduces VC-DI-EdDSA's eddsa-rdfc-2022 example byte
// for byte: its canonical proof configuration, its hashes and (Ed25519
// being deterministic) its proofValue; then verifies the published
// document.
func TestEdDSAVector(t *testing.T) {
	kp := readKeyPair(t, "eddsa-rdfc-2022")
	priv := multibaseKey(t, kp.Private).(ed25519.PrivateKey)
	pub := multibaseKey(t, kp.Public).(ed25519.PublicKey)
	if !pub.Equal(priv.Public()) {
		t.Fatal("key pair does not match")
	}
	signed := readFile(t, "vectors", "eddsa-rdfc-2022", "signed.json")
	unsigned, proof := removeProof(t, signed)

	// Canonical proof configuration and combined hash.
	s := Default()
	var doc map[string]any
	json.Unmarshal(unsigned, &doc)
	config := map[string]any{}
	for k, v := range proof {
		if k != "proofValue" {
			config[k] = v
		}
	}
	config["@context"] = doc["@context"]
	canonProof, err := s.jp.Canonicalize(config)
	if err != nil {
		t.Fatal(err)
	}
	if want := readFile(t, "vectors", "eddsa-rdfc-2022", "proofCanon.txt"); !bytes.Equal(canonProof, want) {
		t.Fatalf("canonical proof configuration:\n%s\nwant:\n%s", canonProof, want)
	}
	data, err := s.hashData(suites[EdDSARDFC2022], doc, config)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(data), string(readFile(t, "vectors", "eddsa-rdfc-2022", "combinedHash.txt")); got != want {
		t.Fatalf("combined hash %s, want %s", got, want)
	}

	// Sign the unsigned credential: the same proofValue.
	created, _ := time.Parse(time.RFC3339, proof["created"].(string))
	out, err := s.sign(context.Background(), unsigned, priv, Options{
		Cryptosuite: EdDSARDFC2022, VerificationMethod: proof["verificationMethod"].(string), Created: created,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(out, &got)
	if pv := got["proof"].(map[string]any)["proofValue"]; pv != proof["proofValue"] {
		t.Fatalf("proofValue %v, want %v", pv, proof["proofValue"])
	}

	// And verify the published document.
	v, err := s.Verify(context.Background(), signed, staticKey(proof["verificationMethod"].(string), pub), VerifyOptions{Now: vectorNow})
	if err != nil {
		t.Fatal(err)
	}
	if v.Proof.Cryptosuite != EdDSARDFC2022 || !v.Proof.Created.Equal(created) {
		t.Fatalf("verified proof %+v", v.Proof)
	}
}

// cryptosuiteString is the datatype today's VC 2.0 context gives the
// cryptosuite. The VC-DI-ECDSA vectors were made with an earlier version of
// that context, without it (SOURCE.md), so they are checked hash by hash.
const cryptosuiteString = `^^<https://w3id.org/security#cryptosuiteString>`

// TestECDSAVectors checks VC-DI-ECDSA's ecdsa-rdfc-2019 P-256 and P-384
// examples: our canonical document (and its hash, shared with the EdDSA
// example), our canonical proof configuration against the published one
// (P-256) up to the cryptosuite datatype, and that the published signature
// verifies over hash(proof configuration) ‖ hash(our canonical document).
// Our own signatures with the vectors' keys verify end to end.
func TestECDSAVectors(t *testing.T) {
	for _, dir := range []string{"ecdsa-rdfc-2019-p256", "ecdsa-rdfc-2019-p384"} {
		t.Run(dir, func(t *testing.T) {
			kp := readKeyPair(t, dir)
			pub := multibaseKey(t, kp.Public).(*ecdsa.PublicKey)
			priv := multibaseKey(t, kp.Private).(*ecdsa.PrivateKey)
			if !pub.Equal(priv.Public()) {
				t.Fatal("key pair does not match")
			}
			signed := readFile(t, "vectors", dir, "signed.json")
			unsigned, proof := removeProof(t, signed)
			s := Default()
			var doc map[string]any
			json.Unmarshal(unsigned, &doc)
			canonDoc, err := s.jp.Canonicalize(doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := sha256.Sum256(canonDoc); hex.EncodeToString(got[:]) != "517744132ae165a5349155bef0bb0cf2258fff99dfe1dbd914b938d775a36017" {
				t.Fatalf("document hash %x", got)
			}
			config := map[string]any{}
			for k, v := range proof {
				if k != "proofValue" {
					config[k] = v
				}
			}
			config["@context"] = doc["@context"]
			canonProof, err := s.jp.Canonicalize(config)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(canonProof, []byte(`"ecdsa-rdfc-2019"`+cryptosuiteString)) {
				t.Fatalf("cryptosuite not typed as today's context says:\n%s", canonProof)
			}
			published := bytes.Replace(canonProof, []byte(cryptosuiteString), nil, 1)
			if dir == "ecdsa-rdfc-2019-p256" {
				if want := readFile(t, "vectors", dir, "proofCanon.txt"); !bytes.Equal(published, want) {
					t.Fatalf("canonical proof configuration:\n%s\nwant:\n%s", published, want)
				}
				if got := sha256.Sum256(published); hex.EncodeToString(got[:]) != string(readFile(t, "vectors", dir, "proofHash.txt")) {
					t.Fatalf("proof hash %x", got)
				}
			}
			suite := suites[ECDSARDFC2019].forKey(pub)
			h := suite.hash()
			h.Write(published)
			data := h.Sum(nil)
			h.Reset()
			h.Write(canonDoc)
			data = h.Sum(data)
			sig, err := decodeProofValue(proof["proofValue"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != suite.sigLen(pub) || !suite.verify(pub, data, sig) {
				t.Fatal("published signature does not verify")
			}
			if suite.verify(pub, append(data[:len(data)-1:len(data)-1], data[len(data)-1]^1), sig) {
				t.Fatal("verify accepts altered data")
			}

			vm := proof["verificationMethod"].(string)
			created, _ := time.Parse(time.RFC3339, proof["created"].(string))
			out, err := s.sign(context.Background(), unsigned, priv, Options{Cryptosuite: ECDSARDFC2019, VerificationMethod: vm, Created: created})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Verify(context.Background(), out, staticKey(vm, pub), VerifyOptions{Now: vectorNow}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
