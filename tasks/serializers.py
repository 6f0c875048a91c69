from rest_framework import serializers


class DemoJobInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=1000, trim_whitespace=False)


class DemoJobOutputSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.CharField()
    room = serializers.CharField()
