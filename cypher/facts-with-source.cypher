// name: facts-with-source
// description: Catalogue facts about an item (its brand and materials) with the documents that state them and the words they used.
// param: item STRING = P00001 -- item id
// portable: true
MATCH (i:Item {id: $item})-[:HAS_BRAND]->(b:Brand)<-[m:MENTIONS]-(d:Document)-[:DESCRIBES]->(i)
RETURN 'HAS_BRAND' AS fact, b.name AS value, d.id AS document, m.text AS evidence, m.confidence AS confidence
UNION ALL
MATCH (i:Item {id: $item})-[:MADE_OF]->(x:Material)<-[m:MENTIONS]-(d:Document)-[:DESCRIBES]->(i)
RETURN 'MADE_OF' AS fact, x.name AS value, d.id AS document, m.text AS evidence, m.confidence AS confidence
