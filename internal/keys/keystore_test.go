package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
)

func newBolt(t *testing.T) *boltkv.Store {
	t.Helper()
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newMaster(t *testing.T) MasterKey {
	t.Helper()
	m, _, err := LoadMasterKey("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newKeystore(t *testing.T, store kv.Store, m MasterKey) *Keystore {
	t.Helper()
	ks, err := NewKeystore(store, m)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestKeystoreRoundTrip(t *testing.T) {
	store := newBolt(t)
	ks := newKeystore(t, store, newMaster(t))
	ctx := t.Context()
	for _, alg := range algs {
		k := generate(t, alg)
		id := "issuer-" + string(alg)
		if err := ks.Put(ctx, id, k); err != nil {
			t.Fatal(err)
		}
		got, err := ks.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if got.Algorithm() != alg || got.Thumbprint() != k.Thumbprint() {
			t.Errorf("Get(%s) = %v, want %v", id, got, k)
		}
		switch s := k.Signer().(type) {
		case ed25519.PrivateKey:
			if !s.Equal(got.Signer()) {
				t.Errorf("Get(%s): private key differs", id)
			}
		case *ecdsa.PrivateKey:
			if !s.Equal(got.Signer()) {
				t.Errorf("Get(%s): private key differs", id)
			}
		}

		// Duplicate ids are refused and the stored key is kept.
		other := generate(t, alg)
		if err := ks.Put(ctx, id, other); !errors.Is(err, kv.ErrConflict) {
			t.Errorf("Put of a duplicate id: %v, want ErrConflict", err)
		}
		if again, _ := ks.Get(ctx, id); again == nil || again.Thumbprint() != k.Thumbprint() {
			t.Error("duplicate Put replaced the key")
		}

		if err := ks.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Get(ctx, id); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
	}
	if _, err := ks.Get(ctx, "never"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(missing): %v, want ErrNotFound", err)
	}
	if err := ks.Delete(ctx, "never"); err != nil {
		t.Errorf("Delete(missing): %v", err)
	}
}

func TestKeystoreStoresUnderPrefix(t *testing.T) {
	store := newBolt(t)
	ks := newKeystore(t, store, newMaster(t))
	if err := ks.Put(t.Context(), "a", generate(t, EdDSA)); err != nil {
		t.Fatal(err)
	}
	var keys []string
	store.List(t.Context(), "", func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	if strings.Join(keys, ",") != "keys/a" {
		t.Errorf("stored kv keys = %q, want [keys/a]", keys)
	}
}

func TestKeystoreWrongMasterKey(t *testing.T) {
	store := newBolt(t)
	ctx := t.Context()
	if err := newKeystore(t, store, newMaster(t)).Put(ctx, "k", generate(t, ES256)); err != nil {
		t.Fatal(err)
	}
	_, err := newKeystore(t, store, newMaster(t)).Get(ctx, "k")
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Get with another master key: %v, want ErrDecrypt", err)
	}
}

func TestKeystoreMovedCiphertext(t *testing.T) {
	store := newBolt(t)
	ks := newKeystore(t, store, newMaster(t))
	ctx := t.Context()
	if err := ks.Put(ctx, "victim", generate(t, ES256)); err != nil {
		t.Fatal(err)
	}
	sealed, err := store.Get(ctx, "keys/victim")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "keys/attacker", sealed, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get(ctx, "attacker"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Get of a record moved to another id: %v, want ErrDecrypt", err)
	}

	// Any altered byte is detected, never decoded as garbage.
	for i := range sealed {
		altered := bytes.Clone(sealed)
		altered[i] ^= 0x01
		if err := store.Put(ctx, "keys/victim", altered, 0); err != nil {
			t.Fatal(err)
		}
		if k, err := ks.Get(ctx, "victim"); err == nil {
			t.Fatalf("Get of a record with byte %d altered = %v", i, k)
		}
	}
	for _, short := range [][]byte{nil, {}, {recordVersion}, sealed[:20]} {
		if err := store.Put(ctx, "keys/victim", short, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Get(ctx, "victim"); err == nil {
			t.Fatalf("Get of a %d-byte record succeeded", len(short))
		}
	}
}

func TestKeystoreCiphertextHidesKey(t *testing.T) {
	store := newBolt(t)
	ks := newKeystore(t, store, newMaster(t))
	for _, alg := range algs {
		k := generate(t, alg)
		if err := ks.Put(t.Context(), "k-"+string(alg), k); err != nil {
			t.Fatal(err)
		}
		sealed, err := store.Get(t.Context(), "keys/k-"+string(alg))
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.Signer())
		if err != nil {
			t.Fatal(err)
		}
		var scalar []byte
		switch s := k.Signer().(type) {
		case ed25519.PrivateKey:
			scalar = s.Seed()
		case *ecdsa.PrivateKey:
			scalar, _ = s.Bytes()
		}
		for name, secret := range map[string][]byte{
			"scalar":        scalar,
			"scalar prefix": scalar[:8],
			"PKCS#8":        der,
			"PKCS#8 base64": []byte(base64.StdEncoding.EncodeToString(der)[:16]),
			"alg name":      []byte(alg),
		} {
			if bytes.Contains(sealed, secret) {
				t.Errorf("%s: stored record contains the %s", alg, name)
			}
		}
	}
}

func TestKeystoreArguments(t *testing.T) {
	store := newBolt(t)
	if _, err := NewKeystore(store, MasterKey{}); err == nil {
		t.Error("NewKeystore with a zero master key succeeded")
	}
	if _, err := NewKeystore(nil, newMaster(t)); err == nil {
		t.Error("NewKeystore with a nil store succeeded")
	}
	ks := newKeystore(t, store, newMaster(t))
	ctx := t.Context()
	k := generate(t, EdDSA)
	for _, id := range []string{"", strings.Repeat("x", kv.MaxKeyLen)} {
		if err := ks.Put(ctx, id, k); err == nil {
			t.Errorf("Put with id of %d bytes succeeded", len(id))
		}
		if _, err := ks.Get(ctx, id); err == nil {
			t.Errorf("Get with id of %d bytes succeeded", len(id))
		}
	}
	if err := ks.Put(ctx, "nil", nil); err == nil {
		t.Error("Put of a nil key succeeded")
	}
	if err := ks.Put(ctx, "zero", &PrivateKey{}); err == nil {
		t.Error("Put of a zero key succeeded")
	}
}
