package multikey_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/medid/medid/did/multikey"
)

func Example() {
	pub, err := multikey.Decode("z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%T, %d bytes\n", pub, len(pub.(ed25519.PublicKey)))

	s, err := multikey.Encode(pub)
	if err != nil {
		panic(err)
	}
	fmt.Println("did:key:" + s)
	// Output:
	// ed25519.PublicKey, 32 bytes
	// did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp
}
