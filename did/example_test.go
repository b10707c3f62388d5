package did_test

import (
	"fmt"

	"github.com/medid/medid/did"
)

func ExampleParse() {
	d, err := did.Parse("did:web:example.com%3A8443:user:alice")
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Method())
	fmt.Println(d.ID())

	_, err = did.Parse("did:Web:example.com")
	fmt.Println(did.ErrorType(err))
	// Output:
	// web
	// example.com%3A8443:user:alice
	// invalidDid
}

func ExampleParseURL() {
	u, err := did.ParseURL("did:example:123?service=agent&relativeRef=/credentials#degree")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.DID)
	fmt.Println(u.Query)
	fmt.Println(u.Fragment)
	// Output:
	// did:example:123
	// service=agent&relativeRef=/credentials
	// degree
}
