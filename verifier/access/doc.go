// Package access answers a clinic's question "may this party access this
// patient's data now?" from the patient's consent credential, and logs
// every answer on the patient's access log (verifier/audit).
//
// A clinic's backend (an admin caller) posts an access request — patient,
// the party asking (grantee, and delegated_by when it acts for the
// consent's grantee), FHIR resource type, SMART interaction, search
// parameters, purpose of use, the data's sensitivity labels and the time —
// together with the consent: either the id of an OpenID4VP session that
// received a consent presentation, or a presentation made directly to
// this service for a nonce it issued. The service
//
//  1. gets the verified consent: from the session's result
//     (SessionResults) or by verifying the presentation
//     (PresentationVerifier) for the nonce, consumed once, and the
//     configured audience;
//  2. takes the consent's status from the verification checks: a status
//     check that failed because the credential is revoked or suspended
//     gives a deny (consent_revoked, consent_suspended) rather than an
//     error; an unchecked status (no status entry, an unreachable list)
//     denies with status_unknown unless Options.AcceptNoStatus;
//  3. establishes who presented the consent: the presentation's holder
//     DID, or its holder key, which must be an authentication key (for
//     did:jwk, the key itself) of the consent's patient (the usual case:
//     the patient's wallet holds the consent and shows it to the clinic)
//     or of the acting party holding a copy (delegated_by when set, the
//     grantee presenting for its delegate; otherwise grantee). A
//     presentation by anyone else denies (presenter_mismatch). That the
//     party asking for access is the consent's grantee (or its delegate)
//     is health.Decide's rule (grantee_mismatch);
//  4. decodes the consent's claims strictly with credentials/health and
//     calls health.Decide, which applies every rule (scopes, purpose,
//     period, labels, patient, grantee and delegation) with deny winning;
//  5. records the decision in the access log — kind access-decision, the
//     grantee as client, the patient's pseudonym, the consent's type and
//     claim names, the requested scope, the purpose, the outcome and the
//     reason codes — and answers only once the entry's commitment is on
//     the ledger. A decision that cannot be logged is not given.
//
// Delegation is asserted by the caller: delegated_by says the asking party
// acts for the consent's grantee; the consent must be delegable and its
// grantee must be the one that presented it. No delegation credential is
// checked.
//
// Claim values, presentations and nonces are never logged.
package access
