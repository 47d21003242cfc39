"""keda"""
