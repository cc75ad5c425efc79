// name: cold-start-items
// description: Items nobody has bought, viewed or rated yet, with how many users they are recommended to (content-based models can reach them; collaborative ones cannot).
// param: k INT64 = 25 -- how many items to list
// portable: true
MATCH (i:Item)
WHERE NOT (i)<-[:PURCHASED|VIEWED|RATED]-(:User)
OPTIONAL MATCH (i)<-[r:RECOMMENDED]-(:User)
RETURN i.id AS item, i.name AS name, count(r) AS recommended_to
ORDER BY recommended_to DESC, item
LIMIT $k
