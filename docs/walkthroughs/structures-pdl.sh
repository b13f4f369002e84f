#!/usr/bin/env bash
# PDL update guide walk-through with curl (guide-pdl-mise-a-jour-etablissement.txt §3), outside any dossier:
# the demo CHU's EG phone and director, a person added to its consultation UO, the available beds of
# its full-hospitalisation UO (history kept); adding a unit needs a dossier (403).
# Usage: BASE=http://127.0.0.1:8000 docs/walkthroughs/structures-pdl.sh   (after `make up` and `ror demo load`)
source "$(dirname "$0")/_common.sh"
R=pdl
DIR=$(token $R cpts.directeur); ADMIN=$(token $R admin)
TREE=$(curl -s "$BASE/api/$R/structures?departement=44&discipline=MCO" -H "Authorization: Bearer $DIR")
EG=$(echo "$TREE" | jq '[.. | objects | select(.kind? == "site" and .finess? == "440000313")][0].id')
CONS=$(echo "$TREE" | jq '[.. | objects | select(.kind? == "unit" and (.name? | startswith("Consultation")))][0].id')
HC=$(echo "$TREE" | jq '[.. | objects | select(.kind? == "unit" and (.name? | startswith("Hospitalisation complète")))][0].id')
echo "EG $EG, consultation UO $CONS, full hospitalisation UO $HC"
show "the demo hospital's EG Directeur: habilitation granted by the region admin (409 when already granted)"
curl -s -o /dev/null -w "%{http_code}\n" "$BASE/api/$R/habilitations" -H "Authorization: Bearer $ADMIN" "${H[@]}" \
     -d "{\"username\": \"cpts.directeur\", \"role\": \"directeur\", \"structure_id\": $EG}"

show "EG sheet and its ETag"
S=$(curl -s -D /tmp/h.txt "$BASE/api/$R/structures/$EG" -H "Authorization: Bearer $DIR")
grep -i '^etag' /tmp/h.txt; echo "$S" | jq -c '{id, kind, name, phone, email, director_name, etag}'
ETAG=$(echo "$S" | jq -r .etag)
show "a phone with dots is refused, naming the field; the required phone cannot be emptied"
curl -s -X PUT "$BASE/api/$R/structures/$EG" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"phone": "02.40.08.33.33"}' | jq -c .
curl -s -X PUT "$BASE/api/$R/structures/$EG" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"phone": null}' | jq -c .
show "« Modifier » then « enregistrer »: phone, MSSanté, director's name"
S=$(curl -s -X PUT "$BASE/api/$R/structures/$EG" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" \
     -d '{"phone": "0240083333", "mssante": "direction@chu-nantes.mssante.fr", "director_name": "M. Philippe EL SAÏR"}')
echo "$S" | jq -c '{phone, mssante, director_name, etag}'
show "the same edit with the old ETag: 412"
curl -s -X PUT "$BASE/api/$R/structures/$EG" -H "Authorization: Bearer $DIR" -H "If-Match: $ETAG" "${H[@]}" -d '{"phone": "0240083334"}' | jq -c .

show "consultation UO: « Ajouter une personne »"
C=$(curl -s "$BASE/api/$R/structures/$CONS" -H "Authorization: Bearer $DIR")
echo "$C" | jq -c '{name, practitioners: [.practitioners[] | "\(.civility // "") \(.last_name) \(.first_name) - \(.profession) - \(.specialty) - \(.convention_sector)"]}'
C=$(curl -s -X POST "$BASE/api/$R/structures/$CONS/practitioners" -H "Authorization: Bearer $DIR" -H "If-Match: $(echo "$C" | jq -r .etag)" "${H[@]}" \
     -d '{"civility": "Madame le Docteur", "last_name": "Tartampion", "first_name": "Anne-Sophie", "profession": "Médecin", "specialty": "Gynécologie médicale (SM)", "convention_sector": "conventionné en Secteur 2"}')
echo "$C" | jq -c '{added: .result, practitioners: [.practitioners[] | "\(.civility // "") \(.last_name) \(.first_name) - \(.profession) - \(.specialty) - \(.convention_sector)"]}'

show "full hospitalisation UO: available beds at the time of the update (twice: history kept)"
U=$(curl -s "$BASE/api/$R/structures/$HC" -H "Authorization: Bearer $DIR")
U=$(curl -s -X PUT "$BASE/api/$R/structures/$HC/capacities" -H "Authorization: Bearer $DIR" -H "If-Match: $(echo "$U" | jq -r .etag)" "${H[@]}" -d '{"available_beds": 6}')
U=$(curl -s -X PUT "$BASE/api/$R/structures/$HC/capacities" -H "Authorization: Bearer $DIR" -H "If-Match: $(echo "$U" | jq -r .etag)" "${H[@]}" -d '{"installed_beds": 45, "available_beds": 4}')
echo "$U" | jq -c '{capacities: [.capacities[] | "\(.label): \(.count)"], history: [.capacity_history[:4][] | "\(.observed_at) \(.type)=\(.count) by \(.recorded_by)"]}'
curl -s -X PUT "$BASE/api/$R/structures/$HC/capacities" -H "Authorization: Bearer $DIR" -H "If-Match: $(echo "$U" | jq -r .etag)" "${H[@]}" -d '{"available_beds": 60}' | jq -c .

show "adding a pôle outside a dossier: 403"
curl -s -X POST "$BASE/api/$R/structures" -H "Authorization: Bearer $DIR" "${H[@]}" -d "{\"parent_id\": $EG, \"kind\": \"pole\", \"name\": \"Pôle nouveau\"}" | jq -c .
