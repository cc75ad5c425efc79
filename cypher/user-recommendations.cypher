// name: user-recommendations
// description: A user's current recommendations with score, model and reason, and the purchases that explain each one (same brand or category).
// param: user STRING = U00001 -- user id
// param: k INT64 = 10 -- how many recommendations to list
// portable: true
MATCH (u:User {id: $user})-[r:RECOMMENDED]->(i:Item)
OPTIONAL MATCH (u)-[:PURCHASED]->(p:Item)-[:HAS_BRAND|IN_CATEGORY]->(shared)<-[:HAS_BRAND|IN_CATEGORY]-(i)
WITH r, i, collect(DISTINCT CASE WHEN p IS NULL THEN NULL ELSE p.name + ' (' + shared.name + ')' END) AS because_you_bought
RETURN r.rank AS rank, i.id AS item, i.name AS name, r.score AS score, r.model AS model, r.reason AS reason, because_you_bought
ORDER BY rank, item
LIMIT $k
