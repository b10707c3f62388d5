package dcql_test

import (
	"encoding/json"
	"fmt"

	"github.com/medid/medid/credentials/dcql"
)

// A wallet matches the query of OpenID4VP appendix D (postal_code, or
// else locality and region) against the credentials it holds and learns
// which claims to disclose.
func ExampleQuery_Match() {
	q, err := dcql.Parse([]byte(`{"credentials":[{"id":"pid","format":"dc+sd-jwt",
	  "meta":{"vct_values":["https://credentials.example.com/identity_credential"]},
	  "claims":[{"id":"a","path":["last_name"]},{"id":"b","path":["postal_code"]},{"id":"c","path":["locality"]},
	            {"id":"d","path":["region"]},{"id":"e","path":["date_of_birth"]}],
	  "claim_sets":[["a","c","d","e"],["a","b","e"]]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var claims map[string]any
	json.Unmarshal([]byte(`{"last_name":"Dent","postal_code":"12345","locality":"Milliways","date_of_birth":"1970-01-01"}`), &claims)
	r := q.Match([]dcql.Candidate{{
		Format: dcql.FormatSDJWTVC, VCT: "https://credentials.example.com/identity_credential",
		Claims: claims, HolderBinding: true,
	}})
	m := r.Matches["pid"][0]
	fmt.Println("satisfied:", r.Satisfied, "selected:", r.Selected)
	fmt.Println("claim set:", m.ClaimSet)
	for _, p := range m.Disclose {
		fmt.Println("disclose", p)
	}
	// Output:
	// satisfied: true selected: [pid]
	// claim set: 1
	// disclose ["last_name"]
	// disclose ["postal_code"]
	// disclose ["date_of_birth"]
}

// Parse names every problem by its JSON path.
func ExampleParse_errors() {
	_, err := dcql.Parse([]byte(`{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{},
	  "claims":[{"path":["address",-1]}]}]}`))
	fmt.Println(err)
	// Output:
	// invalid DCQL query (2 problems): credentials[0].meta.vct_values: required; credentials[0].claims[0].path[1]: must be a string, null or non-negative integer
}

// A verifier checks the shape of a vp_token against its query before
// verifying the presentations.
func ExampleQuery_CheckResponse() {
	q, _ := dcql.Template(dcql.TemplatePatientIdentity, "https://medid.example")
	tok, err := dcql.ParseVPToken([]byte(`{"patient_identity":["eyJ...~","eyJ...~"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.CheckResponse(tok))
	// Output:
	// response does not satisfy the DCQL query: vp_token.patient_identity: more than one presentation, but the Credential Query does not allow multiple
}

func ExampleTemplate() {
	q, err := dcql.Template(dcql.TemplatePatientIdentity, "https://medid.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(q)
	fmt.Println(string(b))
	// Output:
	// {"credentials":[{"id":"patient_identity","format":"dc+sd-jwt","meta":{"vct_values":["https://medid.example/vct/PatientIdentityCredential"]},"claims":[{"id":"given_name","path":["given_name"]},{"id":"family_name","path":["family_name"]},{"id":"birthdate","path":["birthdate"]}],"claim_sets":[["given_name","family_name","birthdate"],["given_name","birthdate"],["family_name","birthdate"]]}]}
}
