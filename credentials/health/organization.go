package health

import "time"

// OrganizationRole is what kind of organization an OrganizationCredential
// describes.
type OrganizationRole string

// The organization roles.
const (
	RoleClinic       OrganizationRole = "clinic"        // ambulatory care provider
	RoleHospital     OrganizationRole = "hospital"      // inpatient care provider
	RolePharmacy     OrganizationRole = "pharmacy"      // dispenses medication
	RoleLaboratory   OrganizationRole = "laboratory"    // diagnostic laboratory
	RolePlatform     OrganizationRole = "platform"      // health data or application platform
	RolePayer        OrganizationRole = "payer"         // insurer or other payer
	RolePublicHealth OrganizationRole = "public_health" // public health authority
	RoleResearch     OrganizationRole = "research"      // research organization
)

var organizationRoles = []OrganizationRole{
	RoleClinic, RoleHospital, RolePharmacy, RoleLaboratory,
	RolePlatform, RolePayer, RolePublicHealth, RoleResearch,
}

// OrganizationCredential attests an organization's identity and role in
// healthcare.
type OrganizationCredential struct {
	// Name is the organization's name.
	Name string `json:"name"`
	// Identifiers are the organization's identifiers (at least one): an
	// organizational NPI or a number in a national register of providers.
	Identifiers []Identifier `json:"identifiers"`
	// Role says what kind of organization it is.
	Role OrganizationRole `json:"role"`
	// Address is the organization's postal address; optional.
	Address *Address `json:"address,omitempty"`
}

// CredentialType returns "OrganizationCredential".
func (OrganizationCredential) CredentialType() string { return TypeOrganization }

// Validate is ValidateAt(time.Now()).
func (o OrganizationCredential) Validate() error { return o.ValidateAt(time.Now()) }

// ValidateAt checks every claim; now is unused. It returns nil or a
// ValidationErrors naming each invalid claim.
func (o OrganizationCredential) ValidateAt(now time.Time) error {
	var c collector
	checkText(&c, "name", o.Name, maxText, false)
	validateIdentifiers(&c, "identifiers", o.Identifiers, providerIdentifierTypes)
	checkEnum(&c, "role", o.Role, organizationRoles)
	if o.Address != nil {
		validateAddress(&c, "address", o.Address)
	}
	return c.err()
}
