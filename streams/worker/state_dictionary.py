"""The preset dictionary of the compact state encoding, version 1 (`streams.worker.codec`). Never edit it.

Deflate starts each stored state with these bytes already "seen", so the field names, rule names, action
types and reason texts every state repeats cost a few bits instead of their length. It is part of the
stored format: a state written with it can only be read with exactly these bytes, so a better dictionary
is a new version (tag 2, `STATE_DICTIONARY_V2`), never a change here; a unit test pins its SHA-256.

Built once from the encoded states (pydantic JSON) of two simulated streams that the benchmark does not use
(seed 7, a big-sale day from 2026-11-11 at 2,000 orders an hour; seed 42, from 2026-03-02 at 60 an hour):
the states that add the most frequent not-yet-covered words, most common last (nearest), cut to the last
7,400 bytes (the 8 KiB deflate window, less zlib's look-ahead).
"""

from __future__ import annotations

STATE_DICTIONARY_V1_SHA256 = "cbbc6606904935ee0d75cb344a40102c6de2796bca4b4196a314f4f9228eaa59"

STATE_DICTIONARY_V1: bytes = (
    b'd":"store-yw-03-42-0002700","store_id":"store-yw-03","marketplace":"taobao","origin_countr'
    b'y":"CN","destination_country":"CN","amount":"79.00","currency":"CNY","placed_at":"2026-03-'
    b'03T21:24:10+08:00","placed_by":"evt-store-yw-03-42-0002700-01","ship_by":"2026-03-06T21:24'
    b':10+08:00","deadlines":[{"due":"2026-03-08T21:24:10+08:00","rule":"overdue_expedite","key"'
    b':"attempt-0","caused_by":["evt-store-yw-03-42-0002700-01"]},{"due":"2026-03-10T21:24:10+08'
    b':00","rule":"overdue_switch","key":"attempt-0","caused_by":["evt-store-yw-03-42-0002700-01'
    b'"]},{"due":"2026-03-06T09:24:10+08:00","rule":"penalty_points","key":"ship-by-warning","ca'
    b'used_by":["evt-store-yw-03-42-0002700-01"]}],"seen":[117819283338802106]}{"order_id":"stor'
    b'e-hz-01-42-0002600","store_id":"store-hz-01","marketplace":"tmall","origin_country":"CN","'
    b'destination_country":"CN","amount":"318.00","currency":"CNY","placed_at":"2026-03-03T19:39'
    b':48+08:00","placed_by":"evt-store-hz-01-42-0002600-01","ship_by":"2026-03-05T19:39:48+08:0'
    b'0","units":2,"supplier_ordered":true,"supplier_cost":"216.24","supplier_currency":"CNY","s'
    b'hipped_at":"2026-03-04T15:15:46+08:00","cancelled_at":"2026-03-05T17:40:14+08:00","last_st'
    b'atus":"returned_to_sender","interception":"succeeded","interception_cause":"customer_cance'
    b'l","customer_refunds":[{"cause":"order","amount":"318.00","action_id":"act-a40111c94e4ce2e'
    b'a11b74d21","confirmed":true}],"refunds_done":"318.00","deadlines":[{"due":"2026-05-04T17:4'
    b'0:14+08:00","rule":"retire","key":"retire"}],"decided":[{"action_id":"act-f01456cf9cfafb84'
    b'25128e94","type":"intercept","rule":"customer_cancel","decided_at":"2026-03-05T00:50:16+08'
    b':00","policy_version":"2026.11-default","caused_by":["evt-store-hz-01-42-0002600-06"],"rea'
    b'son":"the buyer cancelled after shipment, domestic parcel: ask the carrier to intercept it'
    b'"},{"action_id":"act-a40111c94e4ce2ea11b74d21","type":"refund","rule":"customer_cancel","d'
    b'ecided_at":"2026-03-05T17:40:14+08:00","policy_version":"2026.11-default","caused_by":["ev'
    b't-store-hz-01-42-0002600-07"],"reason":"the carrier intercepted the parcel: refund the cus'
    b'tomer"}],"seen":[13194592730744228107,14861727230240448170,2062044688633839285,27564310367'
    b"54359484,7763331411560063042,409790109588220792,8508481219122500906,14595170499856338423,1"
    b'0411824869288745452]}{"order_id":"store-sz-02-7-0002900","store_id":"store-sz-02","marketp'
    b'lace":"shopify","origin_country":"CN","destination_country":"BR","amount":"28.03","currenc'
    b'y":"USD","placed_at":"2026-11-10T12:24:42-05:00","placed_by":"evt-store-sz-02-7-0002900-01'
    b'","ship_by":"2026-11-20T02:17:25-05:00","supplier_ordered":true,"supplier_cost":"14.02","s'
    b'upplier_currency":"USD","supplier_attempt":1,"expedited":true,"shipped_at":"2026-11-18T08:'
    b'57:38-05:00","last_status":"in_transit","decided":[{"action_id":"act-75fba82b5e77b3425b2ba'
    b'328","type":"expedite","rule":"overdue_expedite","decided_at":"2026-11-15T12:24:42-05:00",'
    b'"policy_version":"2026.11-default","caused_by":["evt-store-sz-02-7-0002900-01"],"reason":"'
    b'not shipped 2 days after ship-by 2026-11-13T12:24-05:00: contact the supplier to expedite"'
    b'},{"action_id":"act-49ff52d62643b7463fa733e3","type":"refund","rule":"supplier_unresponsiv'
    b'e","decided_at":"2026-11-17T02:17:25-05:00","policy_version":"2026.11-default","caused_by"'
    b':["evt-store-sz-02-7-0002900-04"],"reason":"the supplier is unresponsive: ask the supplier'
    b' to refund the original purchase"},{"action_id":"act-687d220c67d7af00065fa750","type":"reo'
    b'rder","rule":"supplier_unresponsive","decided_at":"2026-11-17T02:17:25-05:00","policy_vers'
    b'ion":"2026.11-default","caused_by":["evt-store-sz-02-7-0002900-04"],"reason":"the supplier'
    b" is unresponsive: reorder the same or a similar item from an alternative supplier (attempt"
    b' 1 of 1)"}],"seen":[16032623987727256485,6193172458545251614,9238303299696836215,777929800'
    b'8216516560,15442975652467871903,9250663255073505000,6528134107159609253]}{"order_id":"stor'
    b'e-yw-03-7-0004700","store_id":"store-yw-03","marketplace":"1688","origin_country":"CN","de'
    b'stination_country":"CN","amount":"64.00","currency":"CNY","placed_at":"2026-11-11T02:16:54'
    b'+08:00","placed_by":"evt-store-yw-03-7-0004700-01","ship_by":"2026-11-11T14:16:54+08:00","'
    b'wholesale":true,"units":20,"promotion":"double11","supplier_ordered":true,"supplier_cost":'
    b'"33.28","supplier_currency":"CNY","shipped_at":"2026-11-11T09:19:04+08:00","delivered_at":'
    b'"2026-11-12T14:21:58+08:00","last_status":"delivered","deadlines":[{"due":"2027-01-11T14:2'
    b'1:58+08:00","rule":"retire","key":"retire"}],"decided":[{"action_id":"act-50f1e795f2e929ec'
    b'b746736b","type":"notify_customer","rule":"promotion","decided_at":"2026-11-11T02:16:54+08'
    b':00","policy_version":"2026.11-default","caused_by":["evt-store-yw-03-7-0004700-01"],"reas'
    b'on":"double11: tell the buyer up front that the order ships by 2026-11-11T14:16+08:00"},{"'
    b'action_id":"act-3ff435ab3365d9b1cd97d7da","type":"notify_customer","rule":"non_quality_ret'
    b'urn_cap","decided_at":"2026-11-11T02:16:54+08:00","policy_version":"2026.11-default","caus'
    b'ed_by":["evt-store-yw-03-7-0004700-01"],"reason":"wholesale order of 20 units: tell the bu'
    b'yer before the order that returns not caused by quality are capped at 10% (2 units)"},{"ac'
    b'tion_id":"act-3bfc53e02c024b601c88e468","type":"expedite","rule":"penalty_points","decided'
    b'_at":"2026-11-11T08:16:54+08:00","policy_version":"2026.11-default","caused_by":["evt-stor'
    b'e-yw-03-7-0004700-01"],"reason":"ship-by 2026-11-11T14:16+08:00 is 6 h away and the order '
    b'has not shipped: ship now to avoid refusal-to-ship points (12-60 a case)"},{"action_id":"a'
    b'ct-29d8816c975756dae603e41d","type":"notify_customer","rule":"promotion","decided_at":"202'
    b'6-11-11T09:19:04+08:00","policy_version":"2026.11-default","caused_by":["evt-store-yw-03-7'
    b'-0004700-04"],"reason":"double11: parcel SF263701104768 handed to sf-express; send the buy'
    b'er the tracking number"}],"seen":[4755856816073519394,9105738960480942648,1808712190533538'
    b'8019,7496029175344554848,6374707176280553288,11184111734847785654]}{"order_id":"store-sz-0'
    b'2-7-0002450","store_id":"store-sz-02","marketplace":"aliexpress","origin_country":"CN","de'
    b'stination_country":"US","amount":"25.08","currency":"USD","placed_at":"2026-11-11T01:11:22'
    b'+08:00","placed_by":"evt-store-sz-02-7-0002450-01","ship_by":"2026-11-11T13:11:22+08:00","'
    b'units":2,"promotion":"double11","deadlines":[{"due":"2026-11-13T13:11:22+08:00","rule":"ov'
    b'erdue_expedite","key":"attempt-0","caused_by":["evt-store-sz-02-7-0002450-01"]},{"due":"20'
    b'26-11-15T13:11:22+08:00","rule":"overdue_switch","key":"attempt-0","caused_by":["evt-store'
    b'-sz-02-7-0002450-01"]}],"decided":[{"action_id":"act-45675d411866c106b39eb08b","type":"not'
    b'ify_customer","rule":"promotion","decided_at":"2026-11-11T01:11:22+08:00","policy_version"'
    b':"2026.11-default","caused_by":["evt-store-sz-02-7-0002450-01"],"reason":"double11: tell t'
    b'he buyer up front that the order ships by 2026-11-11T13:11+08:00"}],"seen":[10245464983229'
    b'031061]}{"order_id":"store-hz-01-42-0005750","store_id":"store-hz-01","marketplace":"taoba'
    b'o","origin_country":"CN","destination_country":"CN","amount":"178.70","currency":"CNY","pl'
    b'aced_at":"2026-03-05T22:57:15+08:00","placed_by":"evt-store-hz-01-42-0005750-01","ship_by"'
    b':"2026-03-08T22:57:15+08:00","units":4,"supplier_ordered":true,"supplier_cost":"82.20","su'
    b'pplier_currency":"CNY","shipped_at":"2026-03-07T04:07:02+08:00","last_status":"in_transit"'
    b',"seen":[3613650068729896906,7949008153678654829,793780035822146492,6786374749288627642,15'
    b"704006326953534558]}"
)
