#!/usr/bin/env bash
# CPTS guide walk-through with curl (guide-idf-cpts-dossier-collaboratif.txt): cpts.directeur opens a
# dossier collaboratif on the demo CPTS's EG, fills the EG contacts, creates the CPTS unit (type first)
# with its intervention communes and activities, finalises every sheet, sends it, approves it; validateur
# validates; the unit is in the répertoire tree and its published offer is readable.
# Usage: BASE=http://127.0.0.1:8000 docs/walkthroughs/dossiers-cpts.sh   (after `make up` and `ror demo load`)
source "$(dirname "$0")/_common.sh"
R=idf
DIR=$(token $R cpts.directeur); VAL=$(token $R validateur); ADMIN=$(token $R admin)

show "the demo CPTS's EG in the répertoire (discipline VIL, département 78)"
EG=$(curl -s "$BASE/api/$R/structures?departement=78&discipline=VIL" -H "Authorization: Bearer $DIR" |
     jq '[.. | objects | select(.kind? == "site" and .type? == "CPTS")][0].id')
echo "EG id: $EG"
show "habilitation Directeur of cpts.directeur on it (region admin; 409 when already granted)"
curl -s -o /dev/null -w "%{http_code}\n" "$BASE/api/$R/habilitations" -H "Authorization: Bearer $ADMIN" "${H[@]}" \
     -d "{\"username\": \"cpts.directeur\", \"role\": \"directeur\", \"structure_id\": $EG}"

show "2. Ouvrir un dossier collaboratif (POST /dossiers)"
D=$(curl -s "$BASE/api/$R/dossiers" -H "Authorization: Bearer $DIR" "${H[@]}" -d "{\"structure_id\": $EG}")
echo "$D" | jq '{id, name, status, etag, sheets: [.sheets[] | {id, kind, name, status, action}]}'
ID=$(echo "$D" | jq .id); ETAG=$(echo "$D" | jq -r .etag)
EG_SHEET=$(echo "$D" | jq '.sheets[] | select(.kind == "eg") | .id')

show "3. Fiche EG: données de contact, « Enr. et finaliser » (grey → green)"
D=$(curl -s -X PUT "$BASE/api/$R/dossiers/$ID/sheets/$EG_SHEET" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" \
     -d '{"data": {"phone": "0130630630", "email": "contact@cpts-mantois.example.fr", "website": "https://www.cpts-mantois.example.fr"}, "finalise": true}')
echo "$D" | jq '{status, sheets: [.sheets[] | {id, kind, status, action}]}'; ETAG=$(echo "$D" | jq -r .etag)

show "3. « Créer des unités opérationnelles »: the type of UO first (CPTS)"
D=$(curl -s "$BASE/api/$R/dossiers/$ID/sheets" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" \
     -d "{\"parent_id\": $EG_SHEET, \"kind\": \"uo\", \"name\": \"CPTS du Mantois - Soins non programmés\", \"unit_type\": \"ROR-UO-CPTS\"}")
UO=$(echo "$D" | jq .created_sheet_id); ETAG=$(echo "$D" | jq -r .etag)
echo "$D" | jq --argjson uo "$UO" '{status, created: (.sheets[] | select(.id == $uo) | {id, kind, unit_type, status, action, errors})}'

show "UO: contacts, territoire d'intervention, activités; « Enr. et finaliser »"
D=$(curl -s -X PUT "$BASE/api/$R/dossiers/$ID/sheets/$UO" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"finalise": true, "data": {
  "email": "snp@cpts-mantois.example.fr",
  "description": {"age_min": 0, "age_max": 150, "operational_activities": ["475", "471"]},
  "modalities": {"intervention_communes": ["78361", "78362", "78354", "78118"]},
  "contacts": {"contacts": [{"channel": "email", "purpose": "Secrétariat - Accueil", "value": "snp@cpts-mantois.example.fr", "visibility": "public"},
                            {"channel": "phone", "purpose": "Téléphone médical", "value": "0130630631", "visibility": "professional"}]}}}')
echo "$D" | jq --argjson uo "$UO" '{status, uo: (.sheets[] | select(.id == $uo) | {status, action, data: {description: .data.description, communes: .data.modalities.intervention_communes}})}'
ETAG=$(echo "$D" | jq -r .etag)

show "4. « Finaliser les fiches »: the UO pre-created by the demo is still grey and incomplete (400 lists it)"
R400=$(curl -s -w "\n%{http_code}" -X POST "$BASE/api/$R/dossiers/$ID/finalise" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG")
echo "$R400" | tail -1; echo "$R400" | head -1 | jq '.error | {message, invalid: .fields.sheets}'
ETAG=$(echo "$R400" | head -1 | jq -r .error.fields.etag)
PRE=$(echo "$R400" | head -1 | jq -r '.error.fields.sheets | keys[0]')
show "… completed (« Si la fiche UO a été pré-créée : compléter les informations »), then finalised"
D=$(curl -s -X PUT "$BASE/api/$R/dossiers/$ID/sheets/$PRE" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"finalise": true, "data": {
  "description": {"age_min": 0, "operational_activities": ["335", "475"]},
  "modalities": {"intervention_communes": ["78361"]},
  "contacts": {"contacts": [{"channel": "phone", "value": "0130630630", "visibility": "public"}]}}}')
echo "$D" | jq '{status, sheets: [.sheets[] | {id, kind, name, status, action}]}'; ETAG=$(echo "$D" | jq -r .etag)

show "approve before sending: 409 naming the state and the allowed actions"
curl -s -X POST "$BASE/api/$R/dossiers/$ID/transitions" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"action": "approve"}' | jq -c .
show "5. « Envoyer en validation »"
D=$(curl -s -X POST "$BASE/api/$R/dossiers/$ID/transitions" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"action": "send"}')
echo "$D" | jq -c '{status, actions}'; ETAG=$(echo "$D" | jq -r .etag)
show "the validator may not approve in the Directeur's place (403)"
curl -s -X POST "$BASE/api/$R/dossiers/$ID/transitions" -H "Authorization: Bearer $VAL" -H "If-Match: $ETAG" "${H[@]}" -d '{"action": "approve"}' | jq -c .
show "first level: the CPTS Directeur approves"
D=$(curl -s -X POST "$BASE/api/$R/dossiers/$ID/transitions" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"action": "approve", "comment": "Relu"}')
echo "$D" | jq -c '{status, actions}'; ETAG=$(echo "$D" | jq -r .etag)
show "6. second level: validateur (regional team) validates → published atomically"
D=$(curl -s -X POST "$BASE/api/$R/dossiers/$ID/transitions" -H "Authorization: Bearer $VAL" -H "If-Match: $ETAG" "${H[@]}" -d '{"action": "validate", "comment": "Conforme"}')
echo "$D" | jq -c '{status, published_at, publication_error, applied: (.applied | {created, updated, offers})}'
NEW_UNIT=$(echo "$D" | jq --arg uo "$UO" '.applied.structures[$uo]')

show "the new unit in the répertoire tree"
curl -s "$BASE/api/$R/structures?departement=78&discipline=VIL" -H "Authorization: Bearer $DIR" |
  jq --argjson u "$NEW_UNIT" '[.. | objects | select(.id? == $u)][0] | {id, kind, name, email, offer}'
OFFER=$(curl -s "$BASE/api/$R/structures?departement=78&discipline=VIL" -H "Authorization: Bearer $DIR" |
  jq --argjson u "$NEW_UNIT" '[.. | objects | select(.id? == $u)][0].offer.id')
show "its published offer, read anonymously"
curl -s "$BASE/api/$R/offers/$OFFER" | jq '{id, name, status, unit_type, published_at,
  activities: [.published.description.operational_activities[].label],
  communes: [.published.modalities.intervention_communes[].label], contacts: .published.contacts.contacts}'
show "history (transitions)"
curl -s "$BASE/api/$R/dossiers/$ID/history" -H "Authorization: Bearer $VAL" | jq -c '.[] | select(.to_status) | {action, actor, role, from_status, to_status, comment}'
show "export PDF"
curl -s -o /tmp/dossier-$ID.pdf -w "%{http_code} %{content_type} %{size_download} bytes\n" "$BASE/api/$R/dossiers/$ID.pdf" -H "Authorization: Bearer $DIR"
