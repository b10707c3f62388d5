package vciclient

import (
	"slices"
	"testing"
)

// An ldp_vc configuration's credential_definition.@context, in each shape
// an issuer may write it, never makes the metadata unreadable.
func TestCredentialDefinitionContexts(t *testing.T) {
	for _, tc := range []struct {
		context string
		want    []string
	}{
		{`["https://www.w3.org/ns/credentials/v2","https://issuer.example/ctx/v1"]`, []string{"https://www.w3.org/ns/credentials/v2", "https://issuer.example/ctx/v1"}},
		{`"https://www.w3.org/ns/credentials/v2"`, []string{"https://www.w3.org/ns/credentials/v2"}},
		{`["https://www.w3.org/ns/credentials/v2",{"nickname":"https://issuer.example/vocab#nickname"}]`, []string{"https://www.w3.org/ns/credentials/v2"}},
		{`7`, nil},
	} {
		md, err := parseIssuerMetadata([]byte(`{"credential_issuer":"https://issuer.example","credential_endpoint":"https://issuer.example/credential",
			"credential_configurations_supported":{"x_ldp_vc":{"format":"ldp_vc",
			"credential_definition":{"@context":`+tc.context+`,"type":["VerifiableCredential","X"]}}}}`), "https://issuer.example")
		if err != nil {
			t.Fatalf("%s: %v", tc.context, err)
		}
		def := md.Configurations["x_ldp_vc"].CredentialDefinition
		if got := def.ContextURLs(); !slices.Equal(got, tc.want) || !slices.Equal(def.Type, []string{"VerifiableCredential", "X"}) {
			t.Errorf("%s: %v", tc.context, got)
		}
	}
	var none *CredentialDefinition
	if none.ContextURLs() != nil {
		t.Error("nil definition")
	}
}
