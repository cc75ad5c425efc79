// name: co-purchase-pairs
// description: Pairs of items bought by the same customers, the most shared first.
// param: k INT64 = 10 -- how many pairs to list
// portable: true
MATCH (a:Item)<-[:PURCHASED]-(u:User)-[:PURCHASED]->(b:Item)
WHERE a.id < b.id
RETURN a.name AS item, b.name AS also_bought, count(DISTINCT u) AS customers
ORDER BY customers DESC, item, also_bought
LIMIT $k
