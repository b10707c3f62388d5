package openid4vp

import (
	"encoding/json"

	"github.com/medid/medid/credentials/dcql"
)

// QueryEngine is the DCQL the service consumes: it checks a query when a
// session is created, expands named templates, and checks that the
// verified presentations of a response satisfy the query (credential sets,
// claims, claim sets, values, meta, trusted authorities, holder binding).
type QueryEngine interface {
	// CheckQuery reports why query is not a valid DCQL query.
	CheckQuery(query json.RawMessage) error
	// Template returns the DCQL query of a named template, such as
	// "patient-identity" or "consent".
	Template(name string) (json.RawMessage, bool)
	// Satisfied reports why the presentations, verified and keyed by
	// credential query id, do not satisfy query.
	Satisfied(query json.RawMessage, presented map[string][]*VerifiedPresentation) error
}

// DCQL is the QueryEngine over credentials/dcql.
type DCQL struct {
	// IssuerBaseURL is the base URL of the medid issuer whose vct values
	// the templates name.
	IssuerBaseURL string
}

// CheckQuery parses query with dcql.Parse.
func (d DCQL) CheckQuery(query json.RawMessage) error {
	_, err := dcql.Parse(query)
	return err
}

// Template returns dcql.Template(name, IssuerBaseURL) as JSON.
func (d DCQL) Template(name string) (json.RawMessage, bool) {
	q, err := dcql.Template(name, d.IssuerBaseURL)
	if err != nil {
		return nil, false
	}
	b, err := json.Marshal(q)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Satisfied checks each verified presentation against its Credential
// Query (dcql.Query.CheckPresentation), then that the set of verified
// presentations answers the query (dcql.Query.CheckResponse).
func (d DCQL) Satisfied(query json.RawMessage, presented map[string][]*VerifiedPresentation) error {
	q, err := dcql.Parse(query)
	if err != nil {
		return err
	}
	tok := dcql.VPToken{}
	for id, vps := range presented {
		cq := q.Credential(id)
		for _, vp := range vps {
			if _, err := q.CheckPresentation(id, candidate(vp)); err != nil {
				return err
			}
			// CheckResponse looks at the shape and count of presentations
			// only; these have been verified already.
			placeholder := json.RawMessage(`{}`)
			if cq != nil && cq.Format.StringPresentation() {
				placeholder = json.RawMessage(`"verified"`)
			}
			tok[id] = append(tok[id], placeholder)
		}
	}
	return q.CheckResponse(tok)
}

// candidate is vp as DCQL matches it. Claims paths of a W3C credential
// (jwt_vc_json, ldp_vc) start at the credential (OpenID4VP 1.0 section
// 7.1: ["credentialSubject", "given_name"]), while VerifiedPresentation
// flattens credentialSubject into Claims; the candidate puts it back, with
// type and issuer beside it.
func candidate(vp *VerifiedPresentation) dcql.Candidate {
	c := dcql.Candidate{Format: dcql.Format(vp.Format), Claims: vp.Claims, HolderBinding: vp.HolderBinding}
	if c.Format != dcql.FormatJWTVCJSON && c.Format != dcql.FormatLDPVC {
		return c
	}
	subject := make(map[string]any, len(vp.Claims))
	w3c := map[string]any{"credentialSubject": subject}
	for k, v := range vp.Claims {
		switch k {
		case "type":
			w3c["type"] = v
		case "cnf":
		default:
			subject[k] = v
		}
	}
	if vp.Issuer != "" {
		w3c["issuer"] = vp.Issuer
	}
	c.Claims = w3c
	return c
}
