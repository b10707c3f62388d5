package audit_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/medid/medid/verifier/audit"
)

// A patient's wallet recomputes an entry's commitment from the entry and
// its salt, and the ledger leaf that carries it.
func ExampleVerifyEntry() {
	e := audit.Entry{Kind: audit.KindAccessDecision, Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Verifier: "did:medid:verifier", Client: "did:web:clinic.example", Patient: "pseudonym",
		Scopes: []string{"patient/Observation.s"}, Purpose: "TREAT", Outcome: audit.OutcomePermit,
		Reasons: []string{"scope_granted"}, Seq: 1}
	salt := bytes.Repeat([]byte{1}, audit.SaltSize)
	c, err := audit.VerifyEntry(e, salt)
	if err != nil {
		panic(err)
	}
	leaf, _ := audit.LedgerEntry(c, e.Time)
	canonical, _ := audit.Canonical(e)
	fmt.Println(string(canonical))
	fmt.Println(string(leaf))
	// Output:
	// {"client":"did:web:clinic.example","kind":"access-decision","outcome":"permit","patient":"pseudonym","purpose":"TREAT","reasons":["scope_granted"],"scopes":["patient/Observation.s"],"seq":1,"time":"2026-03-01T12:00:00Z","v":1,"verifier":"did:medid:verifier"}
	// {"commitment":"eY3uagV5A1HcEFOj4eFwZN0WfZaWQnEh5ZtI_VyWlCM","time":"2026-03-01T12:00:00Z","type":"access-log/entry","v":1}
}
