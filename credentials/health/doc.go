// Package health defines medid's healthcare credential types: the claims
// of a PatientIdentityCredential, HealthConsentCredential,
// PractitionerCredential and OrganizationCredential, the rules that make a
// claim set valid, and the documents that describe each type to others: a
// JSON Schema (2020-12), a JSON-LD context and SD-JWT VC type metadata.
//
// Claim names are the same in every credential format; where OpenID
// Connect defines a standard claim (given_name, family_name, birthdate,
// gender, address, name) it is used as is.
//
// Validation names the offending field by its JSON path
// ("identifiers[1].system", "scopes[0]"), never its value, so errors can be
// logged without leaking patient data. Decode is the entry point for
// untrusted claim sets: it refuses unknown claims and members, decodes into
// the typed struct and validates it.
//
// A HealthConsentCredential carries SMART App Launch 2.x scopes
// (ParseScope, Scope.Allows), HL7 v3 PurposeOfUse codes and HL7 v3
// ActInformationSensitivityPolicy labels; PurposeOfUse and SensitivityLabel
// document which value sets they accept and where those come from.
//
// The package is pure: no I/O, no global mutable state. Functions that
// depend on the current time have an ...At variant that takes it.
package health
