"""Functions the python_callable example DAG calls.

Sirocco imports this module from the DAG file's folder and calls one
function per task; the function also gets, by name, the context values it
asks for (ds, logical_date, run_id, try_number, ...), as in Airflow.
"""
import json
import random


def summarise(region, orders, ds, logical_date):
    """Makes up a day of orders for a region and returns their summary."""
    rng = random.Random("%s-%s" % (region, ds))
    amounts = [round(rng.uniform(5, 500), 2) for _ in range(int(orders))]
    print("%d orders in %s on %s (a %s)" % (len(amounts), region, ds, logical_date.strftime("%A")))
    return {"region": region, "day": ds, "orders": len(amounts), "total": round(sum(amounts), 2)}


def report(summary, **context):
    """Prints the summary, which the template passes as JSON (| tojson)."""
    data = json.loads(summary)
    average = data["total"] / data["orders"] if data["orders"] else 0.0
    print("%s, %s: %d orders, %.2f in all, %.2f on average (try %d)"
          % (data["region"], data["day"], data["orders"], data["total"], average, context["try_number"]))
    return round(average, 2)
