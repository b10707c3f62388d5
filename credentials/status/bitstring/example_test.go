package bitstring_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/medid/medid/credentials/status/bitstring"
)

// An issuer revokes the credential at index 94567 and publishes the list
// as an (unsigned, still to be secured) BitstringStatusListCredential; the
// revoked credential carries the matching entry.
func ExampleNewCredential() {
	const url = "https://example.com/credentials/status/3"
	l, _ := bitstring.New(bitstring.MinEntries)
	l.Set(94567, true)
	enc, _ := l.Encode()
	c, err := bitstring.NewCredential(bitstring.CredentialParams{
		ID:          url,
		Issuer:      "did:example:12345",
		ValidFrom:   time.Date(2021, 4, 5, 14, 27, 40, 0, time.UTC),
		Purpose:     bitstring.Revocation,
		EncodedList: enc,
	})
	if err != nil {
		panic(err)
	}
	entry, _ := bitstring.NewEntry(url, bitstring.Revocation, 94567)
	out, _ := json.MarshalIndent(entry, "", "  ")
	fmt.Println(string(out))

	// A verifier decodes the list and reads the entry's bit.
	got, _ := bitstring.Decode(c.CredentialSubject.EncodedList, bitstring.MinEntries, 1<<24)
	i, _ := entry.Index()
	revoked, _ := got.Get(i)
	fmt.Println(c.Type[1], revoked)
	// Output:
	// {
	//   "id": "https://example.com/credentials/status/3#94567",
	//   "type": "BitstringStatusListEntry",
	//   "statusPurpose": "revocation",
	//   "statusListIndex": "94567",
	//   "statusListCredential": "https://example.com/credentials/status/3"
	// }
	// BitstringStatusListCredential true
}
