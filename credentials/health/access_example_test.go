package health_test

import (
	"fmt"
	"net/url"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/did"
)

func ExampleDecide() {
	patient, _ := did.Parse("did:example:patient123")
	clinic, _ := did.Parse("did:web:clinic.example")
	var sc []health.Scope
	for _, s := range []string{"patient/Observation.rs", "patient/Condition.rs?category=problem-list-item"} {
		p, _ := health.ParseScope(s)
		sc = append(sc, p)
	}
	consent := health.HealthConsentCredential{
		Patient:        patient,
		Grantee:        health.Grantee{ID: clinic, Name: "Example Clinic", Kind: health.GranteeClinic},
		Scopes:         sc,
		Purposes:       []health.PurposeOfUse{health.PurposeTreatment},
		ValidFrom:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil:     time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
		ExcludedLabels: []health.SensitivityLabel{health.LabelPsychiatry},
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	req := health.AccessRequest{
		Patient: patient, Presenter: clinic, ResourceType: "Condition", Interaction: health.InteractionSearch,
		Params: url.Values{"category": {"problem-list-item"}}, Purpose: health.PurposeTreatment,
		ConsentStatus: health.ConsentValid,
	}
	d := health.Decide(consent, req, now)
	fmt.Println(d.Permit, d.Reasons)

	req.Labels = []health.SensitivityLabel{health.LabelPsychiatry}
	req.Purpose = health.PurposeResearch
	d = health.Decide(consent, req, now)
	fmt.Println(d.Permit)
	for _, r := range d.Reasons {
		fmt.Println(r.Code+":", r.Message)
	}
	// Output:
	// true [{scope_granted granted by scope patient/Condition.rs?category=problem-list-item}]
	// false
	// purpose_not_granted: purpose HRESCH is not granted
	// label_excluded: the data is labelled PSY, which the consent excludes
}
