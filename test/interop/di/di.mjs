// Independent check of medid's Data Integrity proofs with digitalbazaar's
// libraries (jsonld-signatures, @digitalbazaar/data-integrity and the
// eddsa-rdfc-2022 / ecdsa-rdfc-2019 cryptosuites), fully offline.
//
// Usage: node di.mjs DIR
//
// DIR/contexts.json maps each context URL to its document: the only
// documents the loader serves, besides the verification methods below.
// DIR/input.json is {"verify": [...], "sign": [...]}:
//   verify: {name, document, publicKeyMultibase, purpose?, challenge?, domain?}
//           the proof's verificationMethod must be did:key:KEY#KEY for KEY
//           the publicKeyMultibase given.
//   sign:   {name, document, cryptosuite, curve?, purpose?, challenge?, domain?}
// It prints {"verified": [{name, verified, error?}],
//            "signed": [{name, document, publicKeyMultibase}]} on stdout.
import fs from 'node:fs';
import path from 'node:path';
import jsigs from 'jsonld-signatures';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';

const {purposes: {AssertionProofPurpose, AuthenticationProofPurpose}} = jsigs;

const dir = process.argv[2];
if(!dir) {
  console.error('usage: node di.mjs DIR');
  process.exit(2);
}
const contexts = JSON.parse(fs.readFileSync(path.join(dir, 'contexts.json'), 'utf8'));
const input = JSON.parse(fs.readFileSync(path.join(dir, 'input.json'), 'utf8'));
const methods = new Map();

const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

function didKey(publicKeyMultibase) {
  const controller = `did:key:${publicKeyMultibase}`;
  return {controller, id: `${controller}#${publicKeyMultibase}`};
}

function addMethod(publicKeyMultibase) {
  const {controller, id} = didKey(publicKeyMultibase);
  methods.set(id, {'@context': MULTIKEY_V1, id, type: 'Multikey', controller, publicKeyMultibase});
  return {controller, id};
}

// The offline document loader: bundled contexts and known keys, nothing else.
async function documentLoader(url) {
  if(Object.hasOwn(contexts, url)) {
    return {contextUrl: null, documentUrl: url, document: structuredClone(contexts[url])};
  }
  if(methods.has(url)) {
    return {contextUrl: null, documentUrl: url, document: structuredClone(methods.get(url))};
  }
  throw new Error(`offline document loader: ${url} is not available`);
}

function purposeFor({purpose, challenge, domain}, controller, id) {
  const ctl = {id: controller, assertionMethod: [id], authentication: [id]};
  if(purpose === 'authentication') {
    return new AuthenticationProofPurpose({controller: ctl, challenge, domain});
  }
  return new AssertionProofPurpose({controller: ctl});
}

const out = {verified: [], signed: []};

for(const v of input.verify || []) {
  const {controller, id} = addMethod(v.publicKeyMultibase);
  try {
    const suite = new DataIntegrityProof({cryptosuite: v.cryptosuite === 'ecdsa-rdfc-2019' ? ecdsaRdfc2019 : eddsaRdfc2022});
    const result = await jsigs.verify(v.document, {suite, purpose: purposeFor(v, controller, id), documentLoader});
    const entry = {name: v.name, verified: result.verified === true};
    if(!entry.verified) {
      entry.error = String(result.error && (result.error.errors || [result.error]).map(e => e.message).join('; '));
    }
    out.verified.push(entry);
  } catch(e) {
    out.verified.push({name: v.name, verified: false, error: String(e && e.message)});
  }
}

for(const s of input.sign || []) {
  let keyPair;
  let cryptosuite;
  if(s.cryptosuite === 'ecdsa-rdfc-2019') {
    keyPair = await EcdsaMultikey.generate({curve: s.curve || 'P-256'});
    cryptosuite = ecdsaRdfc2019;
  } else {
    keyPair = await Ed25519Multikey.generate();
    cryptosuite = eddsaRdfc2022;
  }
  const {controller, id} = didKey(keyPair.publicKeyMultibase);
  keyPair.id = id;
  keyPair.controller = controller;
  addMethod(keyPair.publicKeyMultibase);
  const suite = new DataIntegrityProof({signer: keyPair.signer(), cryptosuite});
  const document = await jsigs.sign(structuredClone(s.document), {suite, purpose: purposeFor(s, controller, id), documentLoader});
  out.signed.push({name: s.name, document, publicKeyMultibase: keyPair.publicKeyMultibase});
}

process.stdout.write(JSON.stringify(out, null, 2) + '\n');
