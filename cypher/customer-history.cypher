// name: customer-history
// description: What one customer bought, with each item's brand and category, most recent first.
// param: user STRING = U00001 -- user id
// param: k INT64 = 25 -- how many purchases to list
// portable: true
MATCH (u:User {id: $user})-[p:PURCHASED]->(i:Item)
OPTIONAL MATCH (i)-[:HAS_BRAND]->(b:Brand)
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
RETURN i.id AS item, i.name AS name, b.name AS brand, c.name AS category, p.count AS quantity, p.amount AS amount, p.timestamp AS timestamp
ORDER BY timestamp DESC, item
LIMIT $k
