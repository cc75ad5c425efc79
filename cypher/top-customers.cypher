// name: top-customers
// description: Customers ranked by how many items they bought and what they spent.
// param: k INT64 = 10 -- how many customers to list
// portable: true
MATCH (u:User)-[p:PURCHASED]->(i:Item)
RETURN u.id AS user, u.name AS name, count(i) AS items, sum(coalesce(p.amount, 0.0)) AS spent
ORDER BY items DESC, spent DESC, user
LIMIT $k
