package health

// This file holds the claim tables of the credential types: display text,
// selective disclosure policy and whether each claim is mandatory. The
// tests check them against the structs, the JSON Schemas and the JSON-LD
// context.

// claim returns a top-level claim followed by its members. Members of a
// claim that is never selectively disclosable are never disclosable
// either; members of other claims may be.
func claim(name, label, desc string, sd Disclosure, mandatory bool, members ...Claim) []Claim {
	out := []Claim{{Path: []any{name}, Label: label, Description: desc, SD: sd, Mandatory: mandatory}}
	for _, m := range members {
		m.Path = append([]any{name}, m.Path...)
		m.SD = DiscloseAllowed
		if sd == DiscloseNever {
			m.SD = DiscloseNever
		}
		out = append(out, m)
	}
	return out
}

// member describes a member of a claim; mandatory means present whenever
// the claim is.
func member(path []any, label, desc string, mandatory bool) Claim {
	return Claim{Path: path, Label: label, Description: desc, Mandatory: mandatory}
}

func identifierMembers(what string) []Claim {
	return []Claim{
		member([]any{nil, "system"}, "Identifier system", "The namespace (URI or OID) that issued the identifier", true),
		member([]any{nil, "value"}, "Identifier", "The identifier "+what+" is known by in that system", true),
		member([]any{nil, "type"}, "Identifier type", "What kind of identifier it is", true),
	}
}

func addressMembers() []Claim {
	return []Claim{
		member([]any{"formatted"}, "Address", "The full postal address", false),
		member([]any{"street_address"}, "Street address", "Street, house number and further address lines", false),
		member([]any{"locality"}, "City", "City or locality", false),
		member([]any{"region"}, "Region", "State, province or region", false),
		member([]any{"postal_code"}, "Postal code", "Postal or ZIP code", false),
		member([]any{"country"}, "Country", "Country", false),
	}
}

func concat(parts ...[]Claim) []Claim {
	var out []Claim
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var patientType = Type{
	Name:        TypePatientIdentity,
	Label:       "Patient identity",
	Description: "Who a patient is: name, date of birth, gender and the identifiers under which care providers and insurers know them.",
	Claims: concat(
		claim("given_name", "Given name", "The patient's given name(s)", DiscloseAlways, false),
		claim("family_name", "Family name", "The patient's family name(s)", DiscloseAlways, false),
		claim("birthdate", "Date of birth", "The patient's date of birth", DiscloseAlways, true),
		claim("gender", "Gender", "Administrative gender: male, female, other or unknown", DiscloseAlways, true),
		claim("identifiers", "Identifiers", "Medical record, national health and insurance member numbers", DiscloseAlways, true,
			identifierMembers("the patient")...),
		claim("address", "Address", "The patient's postal address", DiscloseAlways, false, addressMembers()...),
		claim("assurance_level", "Identity assurance", "eIDAS level of assurance of the identity check: low, substantial or high", DiscloseNever, true),
	),
}

var consentType = Type{
	Name:        TypeHealthConsent,
	Label:       "Health data consent",
	Description: "A patient's consent for a clinic, practitioner or platform to access part of their health data, for stated purposes and a limited time.",
	Claims: concat(
		claim("patient", "Patient", "The DID of the patient who consents", DiscloseNever, true),
		claim("grantee", "Granted to", "Who may access the data", DiscloseNever, true,
			member([]any{"id"}, "Grantee DID", "The DID of the grantee", true),
			member([]any{"name"}, "Grantee", "The grantee's name", true),
			member([]any{"kind"}, "Grantee kind", "Clinic, practitioner or platform", true),
		),
		claim("scopes", "Data and actions", "SMART on FHIR scopes: which kinds of record may be created, read, updated, deleted or searched", DiscloseNever, true),
		claim("purposes", "Purposes", "HL7 purpose-of-use codes the data may be used for", DiscloseNever, true),
		claim("valid_from", "Valid from", "When the consent comes into force", DiscloseNever, true),
		claim("valid_until", "Valid until", "When the consent ends", DiscloseNever, true),
		claim("excluded_labels", "Excluded information", "HL7 sensitivity labels of information the consent never covers", DiscloseNever, false),
		claim("delegable", "Delegable", "Whether the grantee may pass the access on to others acting for it", DiscloseNever, true),
	),
}

var practitionerType = Type{
	Name:        TypePractitioner,
	Label:       "Health professional",
	Description: "A licensed health professional: name, identifiers, licence to practise and professional role.",
	Claims: concat(
		claim("name", "Name", "The practitioner's full name", DiscloseAlways, true),
		claim("identifiers", "Identifiers", "National Provider Identifier or national register number", DiscloseAlways, true,
			identifierMembers("the practitioner")...),
		claim("licence", "Licence", "Licence to practise", DiscloseNever, true,
			member([]any{"number"}, "Licence number", "Number in the licensing register", true),
			member([]any{"jurisdiction"}, "Jurisdiction", "Country or subdivision (ISO 3166) where the licence is valid", true),
			member([]any{"expires"}, "Licence expires", "Last day on which the licence is valid", true),
		),
		claim("role", "Role", "Professional role", DiscloseNever, true,
			member([]any{"system"}, "Role code system", "The code system of the role code", false),
			member([]any{"code"}, "Role code", "The role's code", true),
			member([]any{"display"}, "Role", "The role's name", true),
		),
	),
}

var organizationType = Type{
	Name:        TypeOrganization,
	Label:       "Healthcare organization",
	Description: "A healthcare organization: name, identifiers, role (clinic, hospital, pharmacy, platform, payer, ...) and address.",
	Claims: concat(
		claim("name", "Name", "The organization's name", DiscloseNever, true),
		claim("identifiers", "Identifiers", "Organizational NPI or national register number", DiscloseNever, true,
			identifierMembers("the organization")...),
		claim("role", "Role", "What kind of organization it is", DiscloseNever, true),
		claim("address", "Address", "The organization's postal address", DiscloseNever, false, addressMembers()...),
	),
}
