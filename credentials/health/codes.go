package health

import (
	"slices"
	"strings"
)

// PurposeOfUseSystem is the HL7 code system of PurposeOfUse codes.
const PurposeOfUseSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

// SensitivitySystem is the HL7 code system of sensitivity labels.
const SensitivitySystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

// PurposeOfUse is an HL7 v3 PurposeOfUse code ("TREAT", "HPAYMT"): the
// reason for which a grantee may use the data a consent covers.
//
// The known codes are the whole HL7 value set
// http://terminology.hl7.org/ValueSet/v3-PurposeOfUse (OID
// 2.16.840.1.113883.1.11.20448), codes of the v3-ActReason code system, as
// published with HL7 Terminology (THO) and bound in FHIR R5: the general
// purposes (TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH, HMARKT,
// PATRQT, COVERAGE, ...) and their specialisations (CAREMGT, HDIRECT,
// FAMRQT, COC, BTG, ...). Codes are case-sensitive.
type PurposeOfUse string

// Frequently used PurposeOfUse codes. Every code of the value set is
// accepted, not only these; see PurposeOfUseCodes.
const (
	PurposeTreatment          PurposeOfUse = "TREAT"
	PurposeEmergencyTreatment PurposeOfUse = "ETREAT"
	PurposeBreakTheGlass      PurposeOfUse = "BTG"
	PurposeCareManagement     PurposeOfUse = "CAREMGT"
	PurposeCoordinationOfCare PurposeOfUse = "COC"
	PurposePayment            PurposeOfUse = "HPAYMT"
	PurposeOperations         PurposeOfUse = "HOPERAT"
	PurposeResearch           PurposeOfUse = "HRESCH"
	PurposePublicHealth       PurposeOfUse = "PUBHLTH"
	PurposeMarketing          PurposeOfUse = "HMARKT"
	PurposeDirectory          PurposeOfUse = "HDIRECT"
	PurposePatientRequested   PurposeOfUse = "PATRQT"
	PurposeFamilyRequested    PurposeOfUse = "FAMRQT"
)

// Known reports whether p is a code of the PurposeOfUse value set.
func (p PurposeOfUse) Known() bool { _, ok := purposesOfUse[string(p)]; return ok }

// Display returns the HL7 display text of p, or "" if p is not known.
func (p PurposeOfUse) Display() string { return purposesOfUse[string(p)] }

// PurposeOfUseCodes returns every known PurposeOfUse code, sorted.
func PurposeOfUseCodes() []PurposeOfUse { return sortedCodes[PurposeOfUse](purposesOfUse) }

// SensitivityLabel is an HL7 v3 information sensitivity code ("PSY",
// "HIV"): a category of sensitive data that a consent can exclude.
//
// The known codes are the HL7 value set
// http://terminology.hl7.org/ValueSet/v3-ActInformationSensitivityPolicy
// (OID 2.16.840.1.113883.1.11.20429), the codes of the v3-ActCode code
// system under _ActInformationSensitivityPolicy, as expanded for FHIR R5:
// behavioural and mental health (BH, MH, PSY, PSYTHPN, COGN, DVD,
// EMOTDIS), substance use (SUD, ETH, ETHUD, OPIOIDUD), HIV, sexually
// transmitted disease (STD), sexuality and reproductive health (SEX,
// PREGNANT), sexual or domestic violence (SDV, MST, VIO), genetic disease
// (GDIS), sickle cell (SCA, SICKLE) and others (IDS, SPI, TBOO). The
// confidentiality levels of v3-Confidentiality (N, R, V, ...) are a
// different code system and are not labels here. Codes are case-sensitive.
type SensitivityLabel string

// Frequently used sensitivity labels. Every code of the value set is
// accepted, not only these; see SensitivityLabels.
const (
	LabelBehavioralHealth  SensitivityLabel = "BH"
	LabelMentalHealth      SensitivityLabel = "MH"
	LabelPsychiatry        SensitivityLabel = "PSY"
	LabelPsychotherapyNote SensitivityLabel = "PSYTHPN"
	LabelSubstanceUse      SensitivityLabel = "SUD"
	LabelSubstanceAbuse    SensitivityLabel = "ETH"
	LabelHIV               SensitivityLabel = "HIV"
	LabelSTD               SensitivityLabel = "STD"
	LabelSexuality         SensitivityLabel = "SEX"
	LabelSexualViolence    SensitivityLabel = "SDV"
	LabelGeneticDisease    SensitivityLabel = "GDIS"
)

// Known reports whether l is a code of the sensitivity value set.
func (l SensitivityLabel) Known() bool { _, ok := sensitivityLabels[string(l)]; return ok }

// Display returns the HL7 display text of l, or "" if l is not known.
func (l SensitivityLabel) Display() string { return sensitivityLabels[string(l)] }

// SensitivityLabels returns every known sensitivity label, sorted.
func SensitivityLabels() []SensitivityLabel { return sortedCodes[SensitivityLabel](sensitivityLabels) }

func sortedCodes[T ~string](m map[string]string) []T {
	out := make([]T, 0, len(m))
	for c := range m {
		out = append(out, T(c))
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(string(a), string(b)) })
	return out
}

// purposesOfUse is the v3-PurposeOfUse value set: code to display.
var purposesOfUse = map[string]string{
	"BIORCH":      "biomedical research",
	"BTG":         "break the glass",
	"CAREMGT":     "care management",
	"CLINTRCH":    "clinical trial research",
	"CLINTRCHNPC": "clinical trial research without patient care",
	"CLINTRCHPC":  "clinical trial research with patient care",
	"CLINTRL":     "clinical trial",
	"CLMATTCH":    "claim attachment",
	"COC":         "coordination of care",
	"COVAUTH":     "coverage authorization",
	"COVERAGE":    "coverage under policy or program",
	"DISASTER":    "disaster",
	"DONAT":       "donation",
	"DSRCH":       "disease specific healthcare research",
	"ELIGDTRM":    "eligibility determination",
	"ELIGVER":     "eligibility verification",
	"ENROLLM":     "enrollment",
	"ERTREAT":     "emergency room treatment",
	"ETREAT":      "emergency treatment",
	"FAMRQT":      "family requested",
	"FRAUD":       "fraud",
	"GOV":         "government",
	"HACCRED":     "health accreditation",
	"HCOMPL":      "health compliance",
	"HDECD":       "decedent",
	"HDIRECT":     "directory",
	"HDM":         "healthcare delivery management",
	"HLEGAL":      "legal",
	"HMARKT":      "healthcare marketing",
	"HOPERAT":     "healthcare operations",
	"HOUTCOMS":    "health outcome measure",
	"HPAYMT":      "healthcare payment",
	"HPRGRP":      "health program reporting",
	"HQUALIMP":    "health quality improvement",
	"HRESCH":      "healthcare research",
	"HSYSADMIN":   "health system administration",
	"HTEST":       "test health data",
	"LABELING":    "labeling",
	"MEMADMIN":    "member administration",
	"METAMGT":     "metadata management",
	"MILCDM":      "military command",
	"MILDCRG":     "military discharge",
	"PATADMIN":    "patient administration",
	"PATRQT":      "patient requested",
	"PATSFTY":     "patient safety",
	"PERFMSR":     "performance measure",
	"POARCH":      "population origins or ancestry healthcare research",
	"POPHLTH":     "population health",
	"PRECLINTRCH": "preclinical trial research",
	"PUBHLTH":     "public health",
	"PWATRNY":     "power of attorney",
	"RECORDMGT":   "records management",
	"REMITADV":    "remittance advice",
	"SUPNWK":      "support network",
	"SYSDEV":      "system development",
	"THREAT":      "threat",
	"TRAIN":       "training",
	"TRANSRCH":    "translational healthcare research",
	"TREAT":       "treatment",
}

// sensitivityLabels is the v3-ActInformationSensitivityPolicy value set
// (concrete codes; the abstract _ActInformationSensitivityPolicy is left
// out): code to display.
var sensitivityLabels = map[string]string{
	"BH":       "behavioral health information sensitivity",
	"COGN":     "cognitive disability information sensitivity",
	"DVD":      "developmental disability information sensitivity",
	"EMOTDIS":  "emotional disturbance information sensitivity",
	"ETH":      "substance abuse information sensitivity",
	"ETHUD":    "alcohol use disorder information sensitivity",
	"GDIS":     "genetic disease information sensitivity",
	"HIV":      "HIV/AIDS information sensitivity",
	"IDS":      "identifier sensitivity",
	"MH":       "mental health information sensitivity",
	"MST":      "military sexual trauma information sensitivity",
	"OPIOIDUD": "opioid use disorder information sensitivity",
	"PREGNANT": "pregnancy information sensitivity",
	"PSY":      "psychiatry disorder information sensitivity",
	"PSYTHPN":  "psychotherapy note information sensitivity",
	"SCA":      "sickle cell anemia information sensitivity",
	"SDV":      "sexual assault, abuse, or domestic violence information sensitivity",
	"SEX":      "sexuality and reproductive health information sensitivity",
	"SICKLE":   "sickle cell",
	"SPI":      "specially protected information sensitivity",
	"STD":      "sexually transmitted disease information sensitivity",
	"SUD":      "substance use disorder information sensitivity",
	"TBOO":     "taboo",
	"VIO":      "violence information sensitivity",
}
