// name: recommendation-paths
// description: The graph paths behind a user's top recommendations, to look at in the Browser: purchase -> shared brand, category or material <- recommended item.
// param: user STRING = U00001 -- user id
// param: k INT64 = 3 -- recommendations to explain (by rank)
// portable: false
MATCH (u:User {id: $user})-[r:RECOMMENDED]->(i:Item)
WHERE r.rank <= $k
MATCH path = (u)-[:PURCHASED]->(:Item)-[:HAS_BRAND|IN_CATEGORY|MADE_OF]->()<-[:HAS_BRAND|IN_CATEGORY|MADE_OF]-(i)
RETURN path, r
LIMIT 100
