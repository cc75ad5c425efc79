// name: view-conversion
// description: Items that are looked at but not bought: viewers, how many of them bought, and the conversion rate, lowest first.
// param: min_viewers INT64 = 5 -- ignore items with fewer viewers
// param: k INT64 = 20 -- how many items to list
// portable: true
MATCH (i:Item)<-[:VIEWED]-(u:User)
OPTIONAL MATCH (u)-[p:PURCHASED]->(i)
WITH i, count(u) AS viewers, count(p) AS buyers
WHERE viewers >= $min_viewers
RETURN i.id AS item, i.name AS name, viewers, buyers, round(1.0 * buyers / viewers, 4) AS conversion
ORDER BY conversion, viewers DESC, item
LIMIT $k
