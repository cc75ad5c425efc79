// name: item-audience
// description: Who to target with an item: customers who have not bought it but bought other items of its brand or category, with their recommendation rank for it if any.
// param: item STRING = P00001 -- item id
// param: k INT64 = 20 -- how many customers to list
// portable: true
MATCH (target:Item {id: $item})-[:HAS_BRAND|IN_CATEGORY]->(shared)<-[:HAS_BRAND|IN_CATEGORY]-(other:Item)<-[:PURCHASED]-(u:User)
WHERE other.id <> target.id AND NOT (u)-[:PURCHASED]->(target)
WITH target, u, count(DISTINCT other) AS related_purchases
OPTIONAL MATCH (u)-[r:RECOMMENDED]->(target)
RETURN u.id AS user, u.name AS name, related_purchases, r.rank AS recommended_rank
ORDER BY related_purchases DESC, user
LIMIT $k
