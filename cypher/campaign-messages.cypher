// name: campaign-messages
// description: A campaign's marketing copy: each Message with its arm, the customer or segment it is for, the item it promotes, and whether it passed the fact check (and why not).
// param: campaign STRING = demo-spring -- campaign id (the slug of the name given to kg campaign create)
// param: k INT64 = 50 -- how many messages to list
// portable: true
MATCH (m:Message {campaign: $campaign})-[:PROMOTES]->(i:Item)
MATCH (m)-[:`FOR`]->(target)
RETURN m.arm AS arm, target.id AS audience, i.id AS item, i.name AS name, m.checked AS checked, m.issues AS issues, m.text AS text
ORDER BY arm, audience, item
LIMIT $k
