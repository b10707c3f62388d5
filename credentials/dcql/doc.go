// Package dcql implements the Digital Credentials Query Language of
// OpenID for Verifiable Presentations 1.0 (final), section 6, and the
// claims path pointers of section 7.
//
// Parse reads a DCQL query strictly and returns a Query whose every
// constraint the specification states has been checked: required members,
// member types, identifier syntax, unique identifiers, claim_sets and
// credential_sets that refer only to existing identifiers, the
// format-specific meta members (vct_values for dc+sd-jwt, type_values for
// jwt_vc_json and ldp_vc, doctype_value for mso_mdoc) and the mdoc
// two-string claim paths. Errors name each offending member by its JSON
// path ("credentials[1].claims[0].path[2]") and never quote values, so
// they can be returned to a client and logged. As section 6 requires,
// members the specification does not define are ignored; a member it
// defines in the wrong place (vct_values on a jwt_vc_json query) is an
// error.
//
// Wallets use Query.Match to find which of their credentials satisfy which
// Credential Query, which claim_sets option each satisfies first, which
// claims (as concrete paths, ready for sdjwt.DisclosePaths) must be
// disclosed, and whether the credential_sets constraints can be met.
// Verifiers use ParseVPToken and Query.CheckResponse to check the shape of
// a vp_token against the query, and Query.CheckPresentation to check that
// the claims of each verified presentation satisfy its Credential Query.
//
// PatientIdentity and Consent (and Template, by name) build the queries
// medid's verifier uses for its own credential types.
//
// The package is pure: no I/O, no clock, no global mutable state.
package dcql
