package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestSealer(t *testing.T) {
	mk, _, err := LoadMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewSealer(mk, "offers")
	b, _ := NewSealer(mk, "other")
	sealed, err := a.Seal([]byte("patient claims"), []byte("offer/1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("patient")) {
		t.Fatal("plaintext visible")
	}
	if got, err := a.Open(sealed, []byte("offer/1")); err != nil || string(got) != "patient claims" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := a.Open(sealed, []byte("offer/2")); !errors.Is(err, ErrDecrypt) {
		t.Fatal("record opened under another id")
	}
	if _, err := b.Open(sealed, []byte("offer/1")); !errors.Is(err, ErrDecrypt) {
		t.Fatal("record opened for another purpose")
	}
	if _, err := a.Open(sealed[:5], nil); !errors.Is(err, ErrDecrypt) {
		t.Fatal("short record")
	}
	if _, err := NewSealer(MasterKey{}, "x"); err == nil {
		t.Fatal("zero master key accepted")
	}
}
